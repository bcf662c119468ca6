/* cmd_key.c - `ladder key new`: make a client API key. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "cli.h"
#include "cli_opt.h"
#include "live_keys.h"

typedef struct key_args {
    const char *id, *tier, *tiers, *workloads;
    long long rpm, tpm;
    double usd_day, usd_month;
} key_args;

#define AT(f) CLI_AT(key_args, f)
static const cli_opt key_opts[] = {
    {"id", CLI_STR, "ID", "the key's name in metrics, events and traces "
     "(A-Z a-z 0-9 . _ -, at most 64)", .flags = CLI_REQ | CLI_NONEMPTY,
     .off = AT(id)},
    {"tier", CLI_STR, "TIER", "the tier its requests get",
     .flags = CLI_REQ | CLI_NONEMPTY, .off = AT(tier)},
    {"tiers", CLI_STR, "T1,T2", "other tiers it may narrow to with "
     "x-ladder-tier", .flags = CLI_NONEMPTY, .off = AT(tiers)},
    {"workloads", CLI_STR, "W1,W2|all", "the workloads it may use",
     .flags = CLI_REQ | CLI_NONEMPTY, .off = AT(workloads)},
    {"rpm", CLI_INT, "N", "requests per minute", .off = AT(rpm), .min = 1,
     .max = 1e9},
    {"tpm", CLI_INT, "N", "tokens per minute (prompt and answer)",
     .off = AT(tpm), .min = 1, .max = 1e12},
    {"usd-per-day", CLI_NUM, "X", "spend per UTC day", .off = AT(usd_day),
     .min = 0, .max = 1e9, .flags = CLI_GT_MIN},
    {"usd-per-month", CLI_NUM, "X", "spend per UTC month",
     .off = AT(usd_month), .min = 0, .max = 1e9, .flags = CLI_GT_MIN},
    {.name = NULL}};

static const cli_cmd key_cmd = {
    "ladder key new",
    {NULL, CLI_FLAG, NULL, NULL, .off = 0},
    "Makes a client API key: prints the secret (once: it is stored nowhere)\n"
    "on the first line of stdout and, on the second, the line to append to\n"
    "the keys file `ladder serve --keys FILE` reads (it holds the secret's\n"
    "SHA-256, never the secret).\n",
    key_opts,
    "Exit: 0 done, 2 usage error, 1 no randomness.\n"};
#undef AT

/* "a,b,c" as a JSON array of its non-empty parts. */
static cJSON *split_list(const char *s)
{
    cJSON *a = cJSON_CreateArray();
    char part[256];
    while (a != NULL && *s != '\0') {
        size_t n = strcspn(s, ",");
        if (n > 0 && n < sizeof part) {
            memcpy(part, s, n);
            part[n] = '\0';
            cJSON *v = cJSON_CreateString(part);
            if (v == NULL || !cJSON_AddItemToArray(a, v)) {
                cJSON_Delete(v);
                cJSON_Delete(a);
                return NULL;
            }
        }
        s += n;
        if (*s == ',')
            s++;
    }
    return a;
}

static bool add_list(cJSON *o, const char *key, const char *list)
{
    cJSON *v = strcmp(list, "all") == 0 ? cJSON_CreateString("all")
                                        : split_list(list);
    if (v == NULL || !cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

int cmd_key(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "new") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                          strcmp(argv[1], "-h") == 0)) {
            char help[] = "--help", prog[] = "new";
            char *hargv[] = {prog, help, NULL};
            key_args none;
            memset(&none, 0, sizeof none);
            return cli_opt_parse(&key_cmd, 2, hargv, &none) == CLI_HELP ? 0 : 2;
        }
        fprintf(stderr, "usage: ladder key new --id ID --tier TIER "
                "--workloads W1,W2|all [--tiers T1,T2] [--rpm N] [--tpm N] "
                "[--usd-per-day X] [--usd-per-month X]\n");
        return 2;
    }
    key_args a;
    memset(&a, 0, sizeof a);
    int pr = cli_opt_parse(&key_cmd, argc - 1, argv + 1, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    size_t idn = strlen(a.id);
    if (idn > LIVE_KEY_ID_MAX || strspn(a.id, "abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789._-") != idn) {
        fprintf(stderr, "ladder key new: --id \"%s\": use 1 to %d of A-Z a-z "
                "0-9 . _ -\n", a.id, LIVE_KEY_ID_MAX);
        return 2;
    }
    unsigned char rnd[32];
    char secret[3 + 64 + 1], hex[65];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        fprintf(stderr, "ladder key new: no randomness from OpenSSL\n");
        return 1;
    }
    memcpy(secret, "lk-", 3);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(secret + 3 + 2 * i, 3, "%02x", rnd[i]);
    if (live_keys_sha256_hex(secret, strlen(secret), hex) != LD_OK) {
        fprintf(stderr, "ladder key new: SHA-256 failed\n");
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && cJSON_AddStringToObject(o, "id", a.id) &&
              cJSON_AddStringToObject(o, "sha256", hex) &&
              cJSON_AddStringToObject(o, "tier", a.tier) &&
              (a.tiers == NULL || add_list(o, "tiers", a.tiers)) &&
              add_list(o, "workloads", a.workloads) &&
              (a.rpm == 0 || cJSON_AddNumberToObject(o, "rpm", (double)a.rpm)) &&
              (a.tpm == 0 || cJSON_AddNumberToObject(o, "tpm", (double)a.tpm)) &&
              (a.usd_day == 0 ||
               cJSON_AddNumberToObject(o, "usd_per_day", a.usd_day)) &&
              (a.usd_month == 0 ||
               cJSON_AddNumberToObject(o, "usd_per_month", a.usd_month));
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (line == NULL) {
        fprintf(stderr, "ladder key new: out of memory\n");
        return 1;
    }
    int rc = printf("%s\n%s\n", secret, line) < 0 || fflush(stdout) != 0;
    cJSON_free(line);
    memset(secret, 0, sizeof secret);
    if (rc != 0) {
        fprintf(stderr, "ladder key new: cannot write to stdout\n");
        return 1;
    }
    fprintf(stderr, "ladder key new: the first line is the secret (shown only "
            "now); append the second to the keys file\n");
    return 0;
}
