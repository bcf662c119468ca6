/* fuzz_responses.c - the OpenAI Responses API's client face (live_face.h),
 * through what fuzz_face.h does with a face. */
#include "fuzz_face.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_face(&live_face_responses, data, size);
}
