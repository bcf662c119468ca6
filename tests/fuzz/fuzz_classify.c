/* fuzz_classify.c - a provider's error body and status through the
 * classifier: the first two bytes are the HTTP status, the next the
 * transport value, the rest the body (OpenAI, Anthropic, anything). */
#include "fuzz.h"

#include "ld_class.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = (data[0] << 8 | data[1]) % 1000;
    r.transport = (ld_transport)(data[2] % 12);
    char type[64], code[64], msg[256];
    if (ld_parse_error_body((const char *)data + 3, size - 3, type,
                            sizeof type, code, sizeof code, msg,
                            sizeof msg) == LD_OK) {
        r.error_type = type;
        r.error_code = code;
        r.error_message = msg;
    }
    ld_class c = ld_classify(&r);
    if (c < LD_FC_NONE || c >= LD_FC_COUNT)
        __builtin_trap(); /* every result falls into exactly one class */
    return 0;
}
