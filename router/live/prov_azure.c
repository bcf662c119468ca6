/* prov_azure.c - Azure OpenAI's chat completions (live_provider.h).
 *
 * The body, answers and stream chunks are OpenAI's (prov_openai.c's
 * operations). What differs is the address and the key: the route's
 * base_url is the resource's endpoint (https://RESOURCE.openai.azure.com),
 * its model the deployment's name, and the URL
 * {endpoint}/openai/deployments/{deployment}/chat/completions
 * ?api-version=2024-10-21 (a route's "query": {"api-version": ...}
 * replaces that version); the key goes in an api-key header. Azure's
 * content filter answers a prompt it blocks with 400 and error.code
 * "content_filter", and an answer or stream it cuts with finish_reason
 * "content_filter": both are content_blocked (ld_class.c). Its 429s carry
 * Retry-After and retry-after-ms, read by the attempt as for every
 * provider.
 */
#include "ld_class.h"
#include "live_adapter_int.h"

const live_provider live_provider_azure = {
    .name = "azure",
    .default_base_url = NULL, /* the policy requires the endpoint */
    .path = "/openai/deployments/%s/chat/completions",
    .query = "api-version=2024-10-21",
    .auth_header = "api-key: %s",
    .version_header = NULL,
    .makes_chunks = false,
    .build = live_openai_build,
    .answer = live_openai_answer,
    .stream_event = live_openai_feed,
    .error_words = ld_parse_error_body,
};
