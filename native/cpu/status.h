// Error reporting behind the C API: kernels return an ls_status and leave a message for ls_last_error().
#ifndef LONGSEQ_CPU_STATUS_H_
#define LONGSEQ_CPU_STATUS_H_

#include <stdint.h>

#include "longseq/longseq.h"

namespace ls {

// Records a printf-style message for ls_last_error() on this thread and returns `status`.
ls_status Fail(ls_status status, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Clears the message; every C entry point calls it first.
void ClearError();

// Whether the caller asked the call to stop (see ls_cancel_flag).
inline bool Cancelled(const ls_cancel_flag* flag) { return flag != nullptr && *flag != 0; }

// The status and message of a cancelled call.
ls_status CancelledStatus();

// Checks shared by the op entries; each returns LS_OK or fails with a message naming `name`.
ls_status CheckPositive(const char* name, int64_t value);
ls_status CheckPointer(const char* name, const void* pointer);
// `storage` (of the ops with bfloat16 storage) is an ls_dtype; the CPU kernels take LS_FLOAT32 only.
ls_status CheckStorage(int32_t storage);
ls_status CheckFloat32Storage(int32_t storage);

}  // namespace ls

#endif  // LONGSEQ_CPU_STATUS_H_
