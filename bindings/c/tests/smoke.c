/* Smoke test of the C ABI (bindings/c/include/mesh.h), built and run under
 * AddressSanitizer and UBSan by scripts/bindings.sh:
 *
 *   smoke 127.0.0.1:PORT
 *
 * where PORT serves / (200 "ok"), /status/503 and /slow (2 s); see
 * bindings/go/internal/testbackend. It prints one line per check and exits
 * non-zero at the first failure. Every handle is freed, so LeakSanitizer
 * reports only what the library itself leaks. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh.h"

/* A C string as the ABI's (ptr, len) pair. */
#define STR(s) (const uint8_t *)(s), strlen(s)

static int checks_passed;

static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAIL %s\n", what);
    fflush(stdout);
    exit(1);
  }
  checks_passed++;
  printf("ok   %s\n", what);
}

/* Checks that a call returned `want`, printing the engine's message, and
 * frees its error. The error is passed by address and read here, after the
 * call has returned: C does not order the evaluation of arguments, so
 * passing `error` itself beside the call that sets it could pass a stale
 * value. */
static void check_result(const char *what, mesh_result got, mesh_result want, mesh_error **error_slot) {
  mesh_error *error = error_slot ? *error_slot : NULL;
  if (got != want) {
    printf("FAIL %s: got %s (%s), want %s\n", what, mesh_result_name(got), mesh_error_message(error),
           mesh_result_name(want));
    fflush(stdout);
    exit(1);
  }
  checks_passed++;
  if (error != NULL && *mesh_error_message(error) != '\0') {
    printf("ok   %s: %s (%s)\n", what, mesh_result_name(got), mesh_error_message(error));
  } else {
    printf("ok   %s: %s\n", what, mesh_result_name(got));
  }
  mesh_error_free(error);
  if (error_slot) {
    *error_slot = NULL;
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char config[4096];

/* The Istio YAML of "smoke-service": one endpoint, the backend; a long
 * route timeout so /slow is ended by the test's own timeout or cancel;
 * two retries on 5xx. */
static void build_config(const char *backend) {
  const char *colon = strrchr(backend, ':');
  if (colon == NULL) {
    fprintf(stderr, "usage: smoke 127.0.0.1:PORT\n");
    exit(2);
  }
  snprintf(config, sizeof config,
           "apiVersion: networking.istio.io/v1beta1\n"
           "kind: VirtualService\n"
           "metadata: {name: smoke-route, namespace: default}\n"
           "spec:\n"
           "  hosts: [smoke-service]\n"
           "  http:\n"
           "  - route: [{destination: {host: smoke-service}}]\n"
           "    timeout: 10s\n"
           "    retries: {attempts: 2, retryOn: 5xx}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1beta1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: smoke-endpoints, namespace: default}\n"
           "spec:\n"
           "  hosts: [smoke-service]\n"
           "  location: MESH_INTERNAL\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  resolution: STATIC\n"
           "  endpoints:\n"
           "  - {address: \"%.*s\", ports: {http: %s}}\n",
           (int)(colon - backend), backend, colon + 1);
}

static mesh_engine *new_engine(uint64_t max_body_bytes) {
  mesh_options *options = mesh_options_new();
  check(options != NULL, "mesh_options_new");
  mesh_error *error = NULL;
  check_result("mesh_options_set_worker_threads 2", mesh_options_set_worker_threads(options, 2, &error),
               MESH_RESULT_OK, &error);
  if (max_body_bytes > 0) {
    check_result("mesh_options_set_max_body_bytes", mesh_options_set_max_body_bytes(options, max_body_bytes, &error),
                 MESH_RESULT_OK, &error);
  }
  mesh_engine *engine = NULL;
  check_result("mesh_engine_new_static",
               mesh_engine_new_static(options, MESH_FORMAT_AUTO, STR(config), &engine, &error), MESH_RESULT_OK,
               &error);
  check(engine != NULL, "the engine handle is set");
  mesh_options_free(options);
  return engine;
}

static mesh_request *new_request(const char *method, const char *url) {
  mesh_request *request = NULL;
  mesh_error *error = NULL;
  mesh_result rc = mesh_request_new(STR(method), STR(url), &request, &error);
  if (rc != MESH_RESULT_OK) {
    printf("FAIL mesh_request_new %s %s: %s (%s)\n", method, url, mesh_result_name(rc), mesh_error_message(error));
    exit(1);
  }
  return request;
}

/* Executes a request; returns the result and the response (or NULL). */
static mesh_result execute(mesh_engine *engine, const mesh_request *request, const mesh_cancel *cancel,
                           mesh_response **response, mesh_error **error) {
  *response = NULL;
  *error = NULL;
  return mesh_engine_execute(engine, request, cancel, response, error);
}

static void test_library(void) {
  check(mesh_abi_version() == 1, "mesh_abi_version is 1");
  check(mesh_version() != NULL && *mesh_version() != '\0', "mesh_version is not empty");
  check(strcmp(mesh_result_name(MESH_RESULT_NO_ROUTE), "no_route") == 0, "mesh_result_name(NO_ROUTE) is no_route");
  check(strcmp(mesh_result_name((mesh_result)999), "unknown") == 0, "mesh_result_name(999) is unknown");
}

static void test_get(mesh_engine *engine) {
  mesh_request *request = new_request("GET", "http://smoke-service/");
  mesh_error *error = NULL;
  check_result("mesh_request_add_header x-smoke", mesh_request_add_header(request, STR("x-smoke"), STR("1"), &error),
               MESH_RESULT_OK, &error);
  mesh_response *response;
  check_result("GET http://smoke-service/", execute(engine, request, NULL, &response, &error), MESH_RESULT_OK, &error);
  check(mesh_response_status(response) == 200, "status 200");
  const uint8_t *body = NULL;
  size_t body_len = 0;
  mesh_response_body(response, &body, &body_len);
  check(body_len == 2 && memcmp(body, "ok", 2) == 0, "body is \"ok\"");
  size_t count = mesh_response_header_count(response);
  check(count > 0, "the response has headers");
  int found_length = 0;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *name, *value;
    size_t name_len, value_len;
    mesh_result rc = mesh_response_header(response, i, &name, &name_len, &value, &value_len, &error);
    if (rc != MESH_RESULT_OK) {
      check_result("mesh_response_header", rc, MESH_RESULT_OK, &error);
    }
    if (name_len == strlen("content-length") && strncmp((const char *)name, "content-length", name_len) == 0) {
      found_length = value_len == 1 && value[0] == '2';
    }
  }
  check(found_length, "content-length: 2 among the headers");
  const uint8_t *name, *value;
  size_t name_len, value_len;
  check_result("mesh_response_header past the end",
               mesh_response_header(response, count, &name, &name_len, &value, &value_len, &error),
               MESH_RESULT_INVALID_ARGUMENT, &error);
  mesh_response_free(response);
  mesh_request_free(request);

  /* Retries cannot mask an endpoint that always fails: the last 503 is
   * the answer, not an error. */
  request = new_request("GET", "http://smoke-service/status/503");
  check_result("GET /status/503", execute(engine, request, NULL, &response, &error), MESH_RESULT_OK, &error);
  check(mesh_response_status(response) == 503, "status 503 after the retries");
  mesh_response_free(response);
  mesh_request_free(request);
}

static void test_request_errors(mesh_engine *engine) {
  mesh_response *response;
  mesh_error *error = NULL;

  mesh_request *request = new_request("GET", "http://unknown-service/");
  check_result("GET an unknown host", execute(engine, request, NULL, &response, &error), MESH_RESULT_NO_ROUTE, &error);
  check(response == NULL, "no response with an error");
  mesh_request_free(request);

  /* The ABI may refuse bad parts when they are added or when executing. */
  request = new_request("GET", "http://smoke-service/");
  mesh_result rc = mesh_request_add_header(request, STR("x-injected"), STR("a\r\nx-evil: 1"), &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a header value with CR LF", rc, MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);

  request = new_request("GET", "http://smoke-service/");
  rc = mesh_request_add_header(request, STR("bad name"), STR("v"), &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a header name with a space", rc, MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);

  request = NULL;
  rc = mesh_request_new(STR("GET"), STR("http://smoke-service/\xff\xfe"), &request, &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a URL with invalid UTF-8", rc, MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);

  request = NULL;
  rc = mesh_request_new(STR("G ET"), STR("http://smoke-service/"), &request, &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a method with a space", rc, MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);

  request = NULL;
  rc = mesh_request_new(STR("GET"), STR("/relative"), &request, &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a relative URL", rc, MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);

  /* TLS to an endpoint is the cluster's setting, not the URL's. */
  request = NULL;
  rc = mesh_request_new(STR("GET"), STR("https://smoke-service/"), &request, &error);
  check_result("an https:// URL", rc, MESH_RESULT_INVALID_REQUEST, &error);
  check(request == NULL, "no request from an https:// URL");

  rc = mesh_request_new(STR("GET"), STR("http://user:secret@smoke-service/"), &request, &error);
  check(error != NULL && strstr(mesh_error_message(error), "secret") == NULL,
        "the error does not repeat the URL's password");
  check_result("credentials in the URL", rc, MESH_RESULT_INVALID_REQUEST, &error);

  /* The engine frames the body: a caller's length could truncate it. */
  request = new_request("POST", "http://smoke-service/");
  check_result("a content-length header", mesh_request_add_header(request, STR("Content-Length"), STR("1"), &error),
               MESH_RESULT_INVALID_REQUEST, &error);
  check_result("a transfer-encoding header",
               mesh_request_add_header(request, STR("transfer-encoding"), STR("chunked"), &error),
               MESH_RESULT_INVALID_REQUEST, &error);
  mesh_request_free(request);
}

static void test_body_too_large(void) {
  mesh_engine *engine = new_engine(16);
  mesh_error *error = NULL;
  mesh_response *response;
  char body[64];
  memset(body, 'x', sizeof body);
  mesh_request *request = new_request("POST", "http://smoke-service/");
  mesh_result rc = mesh_request_set_body(request, (const uint8_t *)body, sizeof body, &error);
  if (rc == MESH_RESULT_OK) {
    rc = execute(engine, request, NULL, &response, &error);
  }
  check_result("a 64-byte body with max_body_bytes 16", rc, MESH_RESULT_BODY_TOO_LARGE, &error);
  mesh_request_free(request);

  request = new_request("POST", "http://smoke-service/");
  check_result("a 16-byte body", mesh_request_set_body(request, (const uint8_t *)body, 16, &error), MESH_RESULT_OK,
               &error);
  check_result("POST a 16-byte body", execute(engine, request, NULL, &response, &error), MESH_RESULT_OK, &error);
  mesh_response_free(response);
  mesh_request_free(request);
  check_result("mesh_engine_free", mesh_engine_free(engine), MESH_RESULT_OK, NULL);
}

static void test_invalid_config(void) {
  mesh_engine *engine = NULL;
  mesh_error *error = NULL;
  const char *bad = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: x}\n"
                    "spec: {hosts: [x], http: [{route: [{destination: {host: x}}], timeout: soon}]}\n";
  mesh_result rc = mesh_engine_new_static(NULL, MESH_FORMAT_AUTO, STR(bad), &engine, &error);
  check(engine == NULL, "no engine from an invalid config");
  check(error != NULL && *mesh_error_message(error) != '\0', "the invalid config's message is not empty");
  check(mesh_error_code(error) == rc, "mesh_error_code is the result");
  check_result("an invalid config", rc, MESH_RESULT_CONFIG_INVALID, &error);

  engine = NULL;
  rc = mesh_engine_new_static_file(NULL, MESH_FORMAT_AUTO, STR("/nonexistent/mesh.yaml"), &engine, &error);
  check(engine == NULL, "no engine from a missing file");
  check_result("a missing config file", rc, MESH_RESULT_CONFIG_INVALID, &error);

  /* The error slot may be NULL. */
  rc = mesh_engine_new_static(NULL, MESH_FORMAT_AUTO, STR(bad), &engine, NULL);
  check_result("an invalid config, error_out NULL", rc, MESH_RESULT_CONFIG_INVALID, NULL);
}

struct canceller {
  const mesh_cancel *cancel;
  long delay_ms;
};

static void *fire_later(void *arg) {
  struct canceller *c = arg;
  struct timespec delay = {c->delay_ms / 1000, (c->delay_ms % 1000) * 1000000L};
  nanosleep(&delay, NULL);
  mesh_cancel_fire(c->cancel);
  return NULL;
}

static void test_cancel_and_timeout(mesh_engine *engine) {
  mesh_error *error = NULL;
  mesh_response *response;

  mesh_request *request = new_request("GET", "http://smoke-service/slow");
  mesh_cancel *cancel = mesh_cancel_new();
  check(cancel != NULL, "mesh_cancel_new");
  struct canceller canceller = {cancel, 200};
  pthread_t thread;
  check(pthread_create(&thread, NULL, fire_later, &canceller) == 0, "pthread_create");
  double start = now_seconds();
  mesh_result rc = execute(engine, request, cancel, &response, &error);
  double elapsed = now_seconds() - start;
  pthread_join(thread, NULL);
  check_result("/slow cancelled from another thread after 200 ms", rc, MESH_RESULT_CANCELLED, &error);
  check(elapsed < 1.5, "the cancelled request returned promptly");
  mesh_cancel_free(cancel);
  mesh_request_free(request);

  request = new_request("GET", "http://smoke-service/slow");
  check_result("mesh_request_set_timeout_ms 100", mesh_request_set_timeout_ms(request, 100, &error), MESH_RESULT_OK,
               &error);
  start = now_seconds();
  rc = execute(engine, request, NULL, &response, &error);
  elapsed = now_seconds() - start;
  check_result("/slow with a 100 ms timeout", rc, MESH_RESULT_TIMEOUT, &error);
  check(elapsed < 1.5, "the timed-out request returned promptly");
  mesh_request_free(request);
}

static void test_decision(mesh_engine *engine, const char *backend) {
  mesh_error *error = NULL;
  mesh_request *request = new_request("GET", "http://smoke-service/status/503");
  mesh_decision *decision = NULL;
  check_result("mesh_engine_resolve", mesh_engine_resolve(engine, request, &decision, &error), MESH_RESULT_OK, &error);
  mesh_request_free(request);
  const uint8_t *endpoint;
  size_t endpoint_len;
  mesh_decision_endpoint(decision, &endpoint, &endpoint_len);
  check(endpoint_len == strlen(backend) && memcmp(endpoint, backend, endpoint_len) == 0,
        "the decision's endpoint is the backend");
  check(mesh_decision_attempt(decision) == 1, "the first attempt is attempt 1");
  check(mesh_decision_max_attempts(decision) == 3, "max attempts is 1 + 2 retries");

  mesh_outcome *outcome = mesh_outcome_new(503, MESH_FAILURE_NONE);
  check_result("mesh_outcome_add_header", mesh_outcome_add_header(outcome, STR("content-length"), STR("0"), &error),
               MESH_RESULT_OK, &error);
  mesh_decision *next = NULL;
  check_result("report a 503", mesh_engine_report(engine, decision, outcome, &next, &error), MESH_RESULT_OK, &error);
  mesh_outcome_free(outcome);
  check(next != NULL && mesh_decision_attempt(next) == 2, "a 503 gives a second attempt");

  outcome = mesh_outcome_new(200, MESH_FAILURE_NONE);
  mesh_decision *last = NULL;
  check_result("report a 200", mesh_engine_report(engine, next, outcome, &last, &error), MESH_RESULT_OK, &error);
  mesh_outcome_free(outcome);
  check(last == NULL, "a 200 ends the request");

  /* An outcome is a status or a failure, not both. */
  request = new_request("GET", "http://smoke-service/");
  check_result("resolve for a bad outcome", mesh_engine_resolve(engine, request, &decision, &error), MESH_RESULT_OK,
               &error);
  mesh_request_free(request);
  outcome = mesh_outcome_new(200, MESH_FAILURE_CONNECT);
  check_result("report a status with a failure", mesh_engine_report(engine, decision, outcome, &last, &error),
               MESH_RESULT_INVALID_ARGUMENT, &error);
  mesh_outcome_free(outcome);
  check(last == NULL, "no next decision from a bad outcome");

  /* An abandoned decision is simply freed. */
  request = new_request("GET", "http://smoke-service/");
  check_result("resolve again", mesh_engine_resolve(engine, request, &decision, &error), MESH_RESULT_OK, &error);
  mesh_request_free(request);
  mesh_decision_free(decision);
}

static void test_admin(mesh_engine *engine) {
  mesh_error *error = NULL;
  mesh_bytes *bytes = NULL;
  check_result("mesh_engine_config_dump", mesh_engine_config_dump(engine, &bytes, &error), MESH_RESULT_OK, &error);
  check(mesh_bytes_len(bytes) > 0 && mesh_bytes_data(bytes) != NULL, "the config dump is not empty");
  mesh_bytes_free(bytes);
  bytes = NULL;
  check_result("mesh_engine_metrics", mesh_engine_metrics(engine, &bytes, &error), MESH_RESULT_OK, &error);
  check(mesh_bytes_len(bytes) > 0 && mesh_bytes_data(bytes) != NULL, "the metrics are not empty");
  mesh_bytes_free(bytes);
}

/* Every function given NULL where it needs a handle or an out-pointer. */
static void test_null_arguments(mesh_engine *engine) {
  const mesh_result INVALID = MESH_RESULT_INVALID_ARGUMENT;
  mesh_error *error = NULL;

  check(mesh_error_code(NULL) == INVALID, "mesh_error_code(NULL)");
  check(strcmp(mesh_error_message(NULL), "") == 0, "mesh_error_message(NULL) is \"\"");
  mesh_error_free(NULL);
  mesh_options_free(NULL);
  mesh_request_free(NULL);
  mesh_response_free(NULL);
  mesh_cancel_free(NULL);
  mesh_cancel_fire(NULL);
  mesh_decision_free(NULL);
  mesh_outcome_free(NULL);
  mesh_bytes_free(NULL);
  check(1, "every _free (and mesh_cancel_fire) accepts NULL");

  check_result("mesh_options_set_worker_threads(NULL)", mesh_options_set_worker_threads(NULL, 1, &error), INVALID,
               &error);
  check_result("mesh_options_set_max_body_bytes(NULL)", mesh_options_set_max_body_bytes(NULL, 1, &error), INVALID,
               &error);
  check_result("mesh_options_set_policy_json(NULL)",
               mesh_options_set_policy_json(NULL, STR("{}"), STR("smoke-service"), &error), INVALID, &error);
  check_result("mesh_options_add_target(NULL)", mesh_options_add_target(NULL, STR("x:80"), &error), INVALID, &error);
  check_result("mesh_options_set_ready_timeout_ms(NULL)", mesh_options_set_ready_timeout_ms(NULL, 1, &error), INVALID,
               &error);
  check_result("mesh_options_set_worker_threads(NULL), error_out NULL", mesh_options_set_worker_threads(NULL, 1, NULL),
               INVALID, NULL);
  mesh_options *options = mesh_options_new();
  check_result("mesh_options_set_max_body_bytes 0", mesh_options_set_max_body_bytes(options, 0, &error), INVALID,
               &error);
  check_result("mesh_options_set_policy_json, NULL json with a length",
               mesh_options_set_policy_json(options, NULL, 2, STR("smoke-service"), &error), INVALID, &error);
  mesh_options_free(options);

  check_result("mesh_engine_new_static, engine_out NULL",
               mesh_engine_new_static(NULL, MESH_FORMAT_AUTO, STR(config), NULL, &error), INVALID, &error);
  mesh_engine *other = NULL;
  check_result("mesh_engine_new_static, NULL config with a length",
               mesh_engine_new_static(NULL, MESH_FORMAT_AUTO, NULL, 10, &other, &error), INVALID, &error);
  check_result("mesh_engine_new_static_file, engine_out NULL",
               mesh_engine_new_static_file(NULL, MESH_FORMAT_AUTO, STR("/x.yaml"), NULL, &error), INVALID, &error);
  check_result("mesh_engine_new_xds, engine_out NULL", mesh_engine_new_xds(NULL, STR("{}"), NULL, &error), INVALID,
               &error);
  check_result("mesh_engine_close(NULL)", mesh_engine_close(NULL, &error), INVALID, &error);
  check_result("mesh_engine_free(NULL)", mesh_engine_free(NULL), MESH_RESULT_OK, NULL);

  mesh_request *request = NULL;
  check_result("mesh_request_new, NULL method with a length",
               mesh_request_new(NULL, 3, STR("http://smoke-service/"), &request, &error), INVALID, &error);
  check_result("mesh_request_new, request_out NULL",
               mesh_request_new(STR("GET"), STR("http://smoke-service/"), NULL, &error), INVALID, &error);
  check_result("mesh_request_add_header(NULL)", mesh_request_add_header(NULL, STR("a"), STR("b"), &error), INVALID,
               &error);
  check_result("mesh_request_set_body(NULL)", mesh_request_set_body(NULL, STR("b"), &error), INVALID, &error);
  check_result("mesh_request_set_timeout_ms(NULL)", mesh_request_set_timeout_ms(NULL, 1, &error), INVALID, &error);
  request = new_request("GET", "http://smoke-service/");
  check_result("mesh_request_add_header, NULL name with a length",
               mesh_request_add_header(request, NULL, 1, STR("b"), &error), INVALID, &error);
  check_result("mesh_request_set_body, NULL body with a length", mesh_request_set_body(request, NULL, 5, &error),
               INVALID, &error);

  mesh_response *response = NULL;
  check_result("mesh_engine_execute(NULL engine)", mesh_engine_execute(NULL, request, NULL, &response, &error), INVALID,
               &error);
  check_result("mesh_engine_execute(NULL request)", mesh_engine_execute(engine, NULL, NULL, &response, &error), INVALID,
               &error);
  check_result("mesh_engine_execute, response_out NULL", mesh_engine_execute(engine, request, NULL, NULL, &error),
               INVALID, &error);
  check(mesh_response_status(NULL) == 0, "mesh_response_status(NULL) is 0");
  check(mesh_response_header_count(NULL) == 0, "mesh_response_header_count(NULL) is 0");
  const uint8_t *ptr = (const uint8_t *)"x", *value;
  size_t len = 1, value_len;
  mesh_response_body(NULL, &ptr, &len);
  check(len == 0, "mesh_response_body(NULL) is empty");
  check_result("mesh_response_header(NULL)", mesh_response_header(NULL, 0, &ptr, &len, &value, &value_len, &error),
               INVALID, &error);

  mesh_decision *decision = NULL;
  check_result("mesh_engine_resolve(NULL engine)", mesh_engine_resolve(NULL, request, &decision, &error), INVALID,
               &error);
  check_result("mesh_engine_resolve(NULL request)", mesh_engine_resolve(engine, NULL, &decision, &error), INVALID,
               &error);
  check_result("mesh_engine_resolve, decision_out NULL", mesh_engine_resolve(engine, request, NULL, &error), INVALID,
               &error);
  mesh_request_free(request);
  ptr = (const uint8_t *)"x";
  len = 1;
  mesh_decision_endpoint(NULL, &ptr, &len);
  check(len == 0, "mesh_decision_endpoint(NULL) is empty");
  len = 1;
  mesh_decision_authority(NULL, &ptr, &len);
  check(len == 0, "mesh_decision_authority(NULL) is empty");
  len = 1;
  mesh_decision_cluster(NULL, &ptr, &len);
  check(len == 0, "mesh_decision_cluster(NULL) is empty");
  check(mesh_decision_timeout_ms(NULL) == 0 && mesh_decision_delay_ms(NULL) == 0 && mesh_decision_attempt(NULL) == 0 &&
            mesh_decision_max_attempts(NULL) == 0 && mesh_decision_header_count(NULL) == 0,
        "the decision's numbers of NULL are 0");
  check_result("mesh_decision_header(NULL)", mesh_decision_header(NULL, 0, &ptr, &len, &value, &value_len, &error),
               INVALID, &error);

  check_result("mesh_outcome_add_header(NULL)", mesh_outcome_add_header(NULL, STR("a"), STR("b"), &error), INVALID,
               &error);
  mesh_outcome *outcome = mesh_outcome_new(200, MESH_FAILURE_NONE);
  mesh_decision *next = NULL;
  check_result("mesh_engine_report(NULL engine, NULL decision)",
               mesh_engine_report(NULL, NULL, outcome, &next, &error), INVALID, &error);
  check_result("mesh_engine_report(NULL decision)", mesh_engine_report(engine, NULL, outcome, &next, &error), INVALID,
               &error);
  mesh_outcome_free(outcome);

  mesh_bytes *bytes = NULL;
  check_result("mesh_engine_config_dump(NULL)", mesh_engine_config_dump(NULL, &bytes, &error), INVALID, &error);
  check_result("mesh_engine_config_dump, out NULL", mesh_engine_config_dump(engine, NULL, &error), INVALID, &error);
  check_result("mesh_engine_metrics(NULL)", mesh_engine_metrics(NULL, &bytes, &error), INVALID, &error);
  check_result("mesh_engine_metrics, out NULL", mesh_engine_metrics(engine, NULL, &error), INVALID, &error);
  check(mesh_bytes_len(NULL) == 0, "mesh_bytes_len(NULL) is 0");
}

static void test_close_and_free(void) {
  mesh_engine *engine = new_engine(0);
  mesh_error *error = NULL;
  mesh_response *response;
  mesh_request *request = new_request("GET", "http://smoke-service/");

  check_result("mesh_engine_close", mesh_engine_close(engine, &error), MESH_RESULT_OK, &error);
  check_result("execute after close", execute(engine, request, NULL, &response, &error), MESH_RESULT_CLOSED, &error);
  check_result("mesh_engine_free after close", mesh_engine_free(engine), MESH_RESULT_OK, NULL);

  /* Decisions outlive their engine: reporting one after the free fails
   * (and still takes it), freeing one is fine. */
  engine = new_engine(0);
  mesh_decision *reported = NULL, *abandoned = NULL;
  check_result("resolve before free", mesh_engine_resolve(engine, request, &reported, &error), MESH_RESULT_OK, &error);
  check_result("resolve before free", mesh_engine_resolve(engine, request, &abandoned, &error), MESH_RESULT_OK,
               &error);
  check_result("mesh_engine_free", mesh_engine_free(engine), MESH_RESULT_OK, NULL);
  check_result("mesh_engine_free twice", mesh_engine_free(engine), MESH_RESULT_INVALID_ARGUMENT, NULL);
  check_result("execute after free", execute(engine, request, NULL, &response, &error), MESH_RESULT_CLOSED, &error);
  mesh_outcome *outcome = mesh_outcome_new(200, MESH_FAILURE_NONE);
  mesh_decision *next = NULL;
  check_result("report after free", mesh_engine_report(engine, reported, outcome, &next, &error), MESH_RESULT_CLOSED,
               &error);
  check(next == NULL, "no next decision after free");
  mesh_outcome_free(outcome);
  mesh_decision_free(abandoned);
  check(1, "a decision is freed after its engine");
  mesh_decision *decision = NULL;
  check_result("resolve after free", mesh_engine_resolve(engine, request, &decision, &error), MESH_RESULT_CLOSED,
               &error);
  mesh_bytes *bytes = NULL;
  check_result("config dump after free", mesh_engine_config_dump(engine, &bytes, &error), MESH_RESULT_CLOSED, &error);
  check_result("close after free", mesh_engine_close(engine, &error), MESH_RESULT_CLOSED, &error);

  /* A handle that never came from the library is a misuse, not a crash. */
  mesh_engine *foreign = (mesh_engine *)(uintptr_t)0xdeadbeef;
  check_result("execute with a foreign handle", execute(foreign, request, NULL, &response, &error),
               MESH_RESULT_INVALID_ARGUMENT, &error);
  check_result("free a foreign handle", mesh_engine_free(foreign), MESH_RESULT_INVALID_ARGUMENT, NULL);
  mesh_request_free(request);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: smoke 127.0.0.1:PORT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  build_config(argv[1]);

  test_library();
  mesh_engine *engine = new_engine(0);
  test_get(engine);
  test_request_errors(engine);
  test_body_too_large();
  test_invalid_config();
  test_cancel_and_timeout(engine);
  test_decision(engine, argv[1]);
  test_admin(engine);
  test_null_arguments(engine);
  check_result("mesh_engine_free", mesh_engine_free(engine), MESH_RESULT_OK, NULL);
  test_close_and_free();

  printf("smoke: all %d checks passed\n", checks_passed);
  return 0;
}
