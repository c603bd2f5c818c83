#include "batch.h"

/* The add-header functions of requests and outcomes, behind one type so
 * that one loop serves both. */
typedef mesh_result (*add_header_fn)(void *target, const uint8_t *name, size_t name_len, const uint8_t *value,
                                     size_t value_len, mesh_error **error_out);

static mesh_result add_request_header(void *target, const uint8_t *name, size_t name_len, const uint8_t *value,
                                      size_t value_len, mesh_error **error_out) {
  return mesh_request_add_header((mesh_request *)target, name, name_len, value, value_len, error_out);
}

static mesh_result add_outcome_header(void *target, const uint8_t *name, size_t name_len, const uint8_t *value,
                                      size_t value_len, mesh_error **error_out) {
  return mesh_outcome_add_header((mesh_outcome *)target, name, name_len, value, value_len, error_out);
}

/* Walks the flat header buffer. `data` is NULL when every part is empty
 * (Go passes no pointer for an empty buffer), so no arithmetic on it then. */
static mesh_result add_flat_headers(add_header_fn add, void *target, const uint8_t *data, const size_t *lens,
                                    size_t parts, mesh_error **error_out) {
  size_t offset = 0;
  for (size_t i = 0; i + 1 < parts; i += 2) {
    const uint8_t *name = data ? data + offset : NULL;
    offset += lens[i];
    const uint8_t *value = data ? data + offset : NULL;
    offset += lens[i + 1];
    mesh_result rc = add(target, name, lens[i], value, lens[i + 1], error_out);
    if (rc != MESH_RESULT_OK) {
      return rc;
    }
  }
  return MESH_RESULT_OK;
}

mesh_result gomesh_request_new(const uint8_t *method, size_t method_len, const uint8_t *url, size_t url_len,
                               const uint8_t *header_data, const size_t *header_lens, size_t header_parts,
                               const uint8_t *body, size_t body_len, uint64_t timeout_ms,
                               mesh_request **request_out, mesh_error **error_out) {
  mesh_request *request = NULL;
  mesh_result rc = mesh_request_new(method, method_len, url, url_len, &request, error_out);
  if (rc != MESH_RESULT_OK) {
    return rc;
  }
  rc = add_flat_headers(add_request_header, request, header_data, header_lens, header_parts, error_out);
  if (rc == MESH_RESULT_OK && body_len > 0) {
    rc = mesh_request_set_body(request, body, body_len, error_out);
  }
  if (rc == MESH_RESULT_OK && timeout_ms > 0) {
    rc = mesh_request_set_timeout_ms(request, timeout_ms, error_out);
  }
  if (rc != MESH_RESULT_OK) {
    mesh_request_free(request);
    return rc;
  }
  *request_out = request;
  return MESH_RESULT_OK;
}

gomesh_response_view gomesh_response_view_of(const mesh_response *response) {
  gomesh_response_view view = {0};
  view.status = mesh_response_status(response);
  mesh_response_body(response, &view.body, &view.body_len);
  view.header_count = mesh_response_header_count(response);
  mesh_response_traceparent(response, &view.traceparent, &view.traceparent_len);
  return view;
}

mesh_result gomesh_response_headers(const mesh_response *response, gomesh_header *out, size_t count,
                                    mesh_error **error_out) {
  for (size_t i = 0; i < count; i++) {
    mesh_result rc = mesh_response_header(response, i, &out[i].name, &out[i].name_len, &out[i].value,
                                          &out[i].value_len, error_out);
    if (rc != MESH_RESULT_OK) {
      return rc;
    }
  }
  return MESH_RESULT_OK;
}

gomesh_decision_view gomesh_decision_view_of(const mesh_decision *decision) {
  gomesh_decision_view view = {0};
  mesh_decision_endpoint(decision, &view.endpoint, &view.endpoint_len);
  mesh_decision_authority(decision, &view.authority, &view.authority_len);
  mesh_decision_cluster(decision, &view.cluster, &view.cluster_len);
  view.timeout_ms = mesh_decision_timeout_ms(decision);
  view.delay_ms = mesh_decision_delay_ms(decision);
  view.attempt = mesh_decision_attempt(decision);
  view.max_attempts = mesh_decision_max_attempts(decision);
  view.header_count = mesh_decision_header_count(decision);
  return view;
}

mesh_result gomesh_decision_headers(const mesh_decision *decision, gomesh_header *out, size_t count,
                                    mesh_error **error_out) {
  for (size_t i = 0; i < count; i++) {
    mesh_result rc = mesh_decision_header(decision, i, &out[i].name, &out[i].name_len, &out[i].value,
                                          &out[i].value_len, error_out);
    if (rc != MESH_RESULT_OK) {
      return rc;
    }
  }
  return MESH_RESULT_OK;
}

mesh_result gomesh_outcome_new(uint16_t status, mesh_failure failure, const uint8_t *header_data,
                               const size_t *header_lens, size_t header_parts, mesh_outcome **outcome_out,
                               mesh_error **error_out) {
  mesh_outcome *outcome = mesh_outcome_new(status, failure);
  if (outcome == NULL) {
    return MESH_RESULT_INTERNAL;
  }
  mesh_result rc = add_flat_headers(add_outcome_header, outcome, header_data, header_lens, header_parts, error_out);
  if (rc != MESH_RESULT_OK) {
    mesh_outcome_free(outcome);
    return rc;
  }
  *outcome_out = outcome;
  return MESH_RESULT_OK;
}
