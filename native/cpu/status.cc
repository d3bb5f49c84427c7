#include "cpu/status.h"

#include <stdarg.h>
#include <stdio.h>

namespace ls {
namespace {
thread_local char g_message[512];
}

ls_status Fail(ls_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(g_message, sizeof(g_message), format, args);
  va_end(args);
  return status;
}

void ClearError() { g_message[0] = '\0'; }

ls_status CancelledStatus() { return Fail(LS_CANCELLED, "cancelled"); }

ls_status CheckPositive(const char* name, int64_t value) {
  if (value >= 1) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "%s must be >= 1, got %lld", name, static_cast<long long>(value));
}

ls_status CheckPointer(const char* name, const void* pointer) {
  if (pointer != nullptr) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "%s must not be null", name);
}

ls_status CheckStorage(int32_t storage) {
  if (storage == LS_FLOAT32 || storage == LS_BFLOAT16) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "storage must be an ls_dtype, got %d", storage);
}

ls_status CheckFloat32Storage(int32_t storage) {
  if (storage == LS_FLOAT32) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "storage must be LS_FLOAT32 on the CPU, got %d", storage);
}

}  // namespace ls

extern "C" const char* ls_last_error(void) { return ls::g_message; }
