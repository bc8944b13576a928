/* Macros the operator libraries (ops.c, moe-ops.c, dsa-ops.c) write their aclnn operators with: the
 * launch half of the two-phase protocol, and early returns of a failed check. */
#ifndef DSA_ASCEND_EMU_OP_H
#define DSA_ASCEND_EMU_OP_H
#include "emu.h"

/* aclnn<name>: the launch half, which queues the executor aclnn<name>GetWorkspaceSize recorded. */
#define LAUNCH(name)                                                                                   \
  aclnnStatus aclnn##name(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream) { \
    return emu_launch("aclnn" #name, workspace, workspaceSize, executor, stream);                     \
  }
/* Returns the status of `expr` from the enclosing function unless it is ACL_SUCCESS. */
#define TRY(expr)                                                                                      \
  do {                                                                                                 \
    aclnnStatus e_ = (expr);                                                                           \
    if (e_) return e_;                                                                                 \
  } while (0)
/* An argument check's failure: ACLNN_ERR_PARAM_INVALID with a printf-formatted message. */
#define FAIL(...) emu_fail(ACLNN_ERR_PARAM_INVALID, __VA_ARGS__)
#endif
