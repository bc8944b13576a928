/* Shared definitions of the CANN emulator: the opaque ACL types, device-memory tracking, streams,
 * executors and strided element access. Not a public header: the TypeScript binding declares the
 * CANN prototypes itself, exactly as a program built against the real headers would. */
#ifndef DSA_ASCEND_EMU_H
#define DSA_ASCEND_EMU_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int aclError;
typedef int aclnnStatus;
typedef void *aclrtStream;

/* Error codes, as in acl_base.h / aclnn status headers. */
#define ACL_SUCCESS 0
#define ACL_ERROR_INVALID_PARAM 100000
#define ACL_ERROR_UNINITIALIZE 100001
#define ACL_ERROR_REPEAT_INITIALIZE 100002
#define ACL_ERROR_BAD_ALLOC 200000
#define ACL_ERROR_RT_PARAM_INVALID 107000
#define ACL_ERROR_RT_CONTEXT_NULL 107002
#define ACL_ERROR_RT_STREAM_INVALID 107005
#define ACLNN_ERR_PARAM_NULLPTR 161001
#define ACLNN_ERR_PARAM_INVALID 161002
#define ACLNN_ERR_RUNTIME_ERROR 361001
#define ACLNN_ERR_INNER 561000

/* aclDataType values (acl_base.h). */
enum {
  EMU_FLOAT = 0, EMU_FLOAT16 = 1, EMU_INT8 = 2, EMU_INT32 = 3, EMU_UINT8 = 4, EMU_INT16 = 6,
  EMU_INT64 = 9, EMU_DOUBLE = 11, EMU_BOOL = 12, EMU_BF16 = 27, EMU_FLOAT8_E4M3FN = 36
};

#define EMU_MAX_DIMS 8
#define TENSOR_MAGIC 0x7e450a11u
#define INTARRAY_MAGIC 0x1a77a1u
#define SCALAR_MAGIC 0x5ca1a7u
#define EXECUTOR_MAGIC 0xe8ec0701u
#define STREAM_MAGIC 0x57ea4001u
#define TENSORLIST_MAGIC 0x7157a11u

typedef struct aclTensor {
  uint32_t magic;
  int dtype;
  int format;
  uint64_t ndim;
  int64_t dims[EMU_MAX_DIMS];
  int64_t strides[EMU_MAX_DIMS];
  int64_t offset;
  uint64_t storageNdim;
  int64_t storageDims[EMU_MAX_DIMS];
  void *data;
} aclTensor;

/* aclTensorList owns its tensors: aclDestroyTensorList destroys them (as in CANN's samples). */
typedef struct aclTensorList {
  uint32_t magic;
  uint64_t size;
  aclTensor **items;
} aclTensorList;

typedef struct aclIntArray {
  uint32_t magic;
  uint64_t size;
  int64_t values[EMU_MAX_DIMS];
} aclIntArray;

typedef struct aclScalar {
  uint32_t magic;
  int dtype;
  double value;
} aclScalar;

#define EXEC_TENSORS 12
typedef struct aclOpExecutor aclOpExecutor;
typedef aclnnStatus (*emu_kernel)(aclOpExecutor *ex, void *workspace);
struct aclOpExecutor {
  uint32_t magic;
  char op[64];
  uint64_t workspaceSize;
  emu_kernel run;
  emu_kernel checkLive; /* set by libnnopbase: the arguments still point into live memory */
  bool present[EXEC_TENSORS];
  aclTensor t[EXEC_TENSORS];
  double f[6];
  int64_t i[8];
  aclIntArray arr[2];
  char text[2][16];
  aclTensor *extra; /* copies of tensor-list members (malloc'd, freed with the executor) */
  int64_t extraCount;
};

/* Records a failure: prints it to stderr, keeps it for aclGetRecentErrMsg, returns `code`. */
int emu_fail(int code, const char *format, ...);
/* True when [pointer, pointer + bytes) lies inside one live allocation of the given kind. */
bool emu_in_allocation(const void *pointer, size_t bytes, bool host, char *why, size_t whySize);
/* Queues work on a stream; it runs at aclrtSynchronizeStream. */
aclError emu_enqueue_exec(aclrtStream stream, aclOpExecutor *ex, void *workspace, uint64_t wsSize);
/* Checks the launch half of the two-phase protocol and queues the executor. */
aclnnStatus emu_launch(const char *op, void *workspace, uint64_t workspaceSize, aclOpExecutor *ex,
                       aclrtStream stream);
bool emu_initialized(void);
/* Frees an executor and what it owns. */
void emu_free_executor(aclOpExecutor *ex);
/* Checks a tensor list: live, `size` members, each a live tensor in live memory. */
aclnnStatus emu_check_list(const char *op, const char *name, const aclTensorList *list);
/* Keeps copies of a list's members in the executor (checked again when it runs). */
void emu_keep_list(aclOpExecutor *ex, const aclTensorList *list);

/* Descriptor checks (libnnopbase). */
aclnnStatus emu_check_tensor(const char *op, const char *name, const aclTensor *t);
/* emu_check_tensor of tensors[i] for i < count, each named by the i-th of the comma-separated `names`; the first
 * failure's status. EMU_CHECK(op, a, b, ...) checks its arguments under their own names. */
aclnnStatus emu_check_tensors(const char *op, const char *names, const aclTensor *const *tensors, int count);
#define EMU_CHECK(op, ...)                                                                    \
  emu_check_tensors((op), #__VA_ARGS__, (const aclTensor *const[]){__VA_ARGS__},            \
                    (int)(sizeof((const aclTensor *const[]){__VA_ARGS__}) / sizeof(const aclTensor *)))
int64_t emu_numel(const aclTensor *t);
size_t emu_dtype_size(int dtype);
const char *emu_dtype_name(int dtype);
aclOpExecutor *emu_new_executor(const char *op, emu_kernel run, uint64_t workspaceSize);
aclnnStatus emu_finish(aclOpExecutor *ex, uint64_t *workspaceSize, aclOpExecutor **executor);
void emu_keep(aclOpExecutor *ex, int slot, const aclTensor *t);
/* emu_keep of tensors[i] into slot i for i < count (NULL ones stay absent); EMU_KEEP(ex, a, b, ...) keeps its
 * arguments into slots 0, 1, ... */
void emu_keep_all(aclOpExecutor *ex, const aclTensor *const *tensors, int count);
#define EMU_KEEP(ex, ...)                                                       \
  emu_keep_all((ex), (const aclTensor *const[]){__VA_ARGS__},                   \
               (int)(sizeof((const aclTensor *const[]){__VA_ARGS__}) / sizeof(const aclTensor *)))
/* Element `linear` (row-major over the view's dims) as an element offset from data. */
int64_t emu_offset(const aclTensor *t, int64_t linear);
double emu_get(const aclTensor *t, int64_t elementOffset);
void emu_set(const aclTensor *t, int64_t elementOffset, double value);
/* Live-data check at execution time: every kept tensor still points into live memory. */
aclnnStatus emu_check_live(aclOpExecutor *ex, void *unused);
#endif
