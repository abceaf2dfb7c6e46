// libFuzzer's driver, linked in by `-sanitize=fuzzer`. The fuzz targets call it
// from their own `main`: SwiftPM links every executable with
// `--defsym main=<module>_main`, which overrides libFuzzer's `main`.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));
