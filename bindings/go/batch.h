/* C helpers that batch several C ABI calls into one cgo call.
 *
 * A cgo call costs ~50-100 ns, far more than the work many ABI calls do, so
 * the request path crosses once per request part instead of once per header
 * or field. These helpers only loop and copy pointers: every decision stays
 * in the engine. */
#ifndef GOMESH_BATCH_H
#define GOMESH_BATCH_H

#include "mesh.h"

/* One borrowed header: pointers into memory the owning handle keeps alive
 * until it is freed. */
typedef struct gomesh_header {
  const uint8_t *name;
  size_t name_len;
  const uint8_t *value;
  size_t value_len;
} gomesh_header;

/* The scalar parts of a response, read in one call. */
typedef struct gomesh_response_view {
  uint16_t status;
  const uint8_t *body;
  size_t body_len;
  size_t header_count;
  const uint8_t *traceparent;
  size_t traceparent_len;
} gomesh_response_view;

/* Every part of a decision except its headers, read in one call. */
typedef struct gomesh_decision_view {
  const uint8_t *endpoint;
  size_t endpoint_len;
  const uint8_t *authority;
  size_t authority_len;
  const uint8_t *cluster;
  size_t cluster_len;
  uint64_t timeout_ms;
  uint64_t delay_ms;
  uint32_t attempt;
  uint32_t max_attempts;
  size_t header_count;
} gomesh_decision_view;

/* Headers crossing from Go arrive flat: every name and value back to back
 * in `header_data` (name, value, name, value, ...) and the length of each
 * part in `header_lens`, so that Go passes two pointer-free buffers, as the
 * cgo rules require. `header_parts` is twice the number of headers. */

/* mesh_request_new + every header + the body (when body_len > 0) + the
 * timeout (when timeout_ms > 0). On failure nothing is left allocated. */
mesh_result gomesh_request_new(const uint8_t *method, size_t method_len, const uint8_t *url, size_t url_len,
                               const uint8_t *header_data, const size_t *header_lens, size_t header_parts,
                               const uint8_t *body, size_t body_len, uint64_t timeout_ms,
                               mesh_request **request_out, mesh_error **error_out);

gomesh_response_view gomesh_response_view_of(const mesh_response *response);
/* Fills out[0..count) with the response's first `count` headers. */
mesh_result gomesh_response_headers(const mesh_response *response, gomesh_header *out, size_t count,
                                    mesh_error **error_out);

gomesh_decision_view gomesh_decision_view_of(const mesh_decision *decision);
/* Fills out[0..count) with the decision's first `count` headers. */
mesh_result gomesh_decision_headers(const mesh_decision *decision, gomesh_header *out, size_t count,
                                    mesh_error **error_out);

/* mesh_outcome_new + every header. On failure nothing is left allocated. */
mesh_result gomesh_outcome_new(uint16_t status, mesh_failure failure, const uint8_t *header_data,
                               const size_t *header_lens, size_t header_parts, mesh_outcome **outcome_out,
                               mesh_error **error_out);

#endif
