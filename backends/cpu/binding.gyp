{
  "targets": [
    {
      "target_name": "dsa_cpu",
      "variables": {
        "dsa_prebuild%": "<!(node -p \"process.env.DSA_CPU_PREBUILD === '1' ? 1 : 0\")"
      },
      "sources": [
        "native/add-scaled-row.cc",
        "native/add-scaled-row-avx512.cc",
        "native/addon.cc",
        "native/argmax-row.cc",
        "native/argmax-row-avx512.cc",
        "native/attention.cc",
        "native/attention-avx512bf16.cc",
        "native/bandwidth.cc",
        "native/buffer.cc",
        "native/convert.cc",
        "native/cpu-features.cc",
        "native/elementwise.cc",
        "native/fma-peak.cc",
        "native/fp8.cc",
        "native/fp8-quantize-avx512.cc",
        "native/gather.cc",
        "native/gemm-avx2.cc",
        "native/gemm-avx512.cc",
        "native/gemm-avx512bf16.cc",
        "native/gemm-amx-bf16.cc",
        "native/attention-amx-bf16.cc",
        "native/gemm-stream8-avx512bf16.cc",
        "native/gemm-portable.cc",
        "native/hadamard.cc",
        "native/huge-pages.cc",
        "native/hadamard-row.cc",
        "native/hadamard-row-avx512.cc",
        "native/indexer.cc",
        "native/indexer-avx512.cc",
        "native/indexer-avx512bf16.cc",
        "native/linear.cc",
        "native/matmul.cc",
        "native/moe.cc",
        "native/moe-experts.cc",
        "native/norm-row.cc",
        "native/norm-row-avx512.cc",
        "native/norm.cc",
        "native/pool.cc",
        "native/program.cc",
        "native/queue.cc",
        "native/reduce.cc",
        "native/rope.cc",
        "native/rope-row.cc",
        "native/rope-row-avx512.cc",
        "native/sample.cc",
        "native/softmax.cc",
        "native/softmax-row.cc",
        "native/softmax-row-avx512.cc",
        "native/swiglu-row.cc",
        "native/swiglu-row-avx512.cc",
        "native/tensor.cc",
        "native/top-k.cc",
        "native/top-k-row-avx512.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-ffp-contract=off", "-Wall", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["dsa_prebuild==1 and OS=='linux'", {
          "cflags_cc": ["-ffile-prefix-map=<(module_root_dir)=."]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"]
          }
        }]
      ]
    }
  ]
}
