// The recorded kernel sequence (see program.h).
#include "program.h"

#include <chrono>
#include <exception>
#include <new>
#include <utility>

#include "buffer.h"
#include "pool.h"

namespace dsa {

Program::~Program() { buffer_release(buffers_.data(), buffers_.size()); }

void Program::append(const char* name, const Context& context, Task&& run, std::vector<uint32_t>&& buffers) {
  ops_.push_back(Op{name, context, std::move(run)});
  buffers_.insert(buffers_.end(), buffers.begin(), buffers.end());
  buffers.clear();
}

void Program::run(std::vector<double>* op_ns) const {
  ThreadPool::Hot hot;
  if (op_ns != nullptr) op_ns->assign(ops_.size(), 0.0);
  for (size_t i = 0; i < ops_.size(); i++) {
    const Op& op = ops_[i];
    std::chrono::steady_clock::time_point started;
    if (op_ns != nullptr) started = std::chrono::steady_clock::now();
    try {
      op.run(op.context);
    } catch (const std::bad_alloc&) {
      throw KernelError(std::string(op.name) + ": out of memory");
    } catch (const KernelError& error) {
      throw KernelError(std::string(op.name) + ": " + error.what());
    } catch (const std::exception& error) {
      throw KernelError(std::string(op.name) + ": internal error: " + error.what());
    } catch (...) {
      throw KernelError(std::string(op.name) + ": unknown internal error");
    }
    if (op_ns != nullptr)
      (*op_ns)[i] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - started).count();
  }
}

}  // namespace dsa
