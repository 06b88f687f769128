#pragma once
// Route registration, one function per resource file in server/handlers/.
// Every route states the clearance it requires (http::RouteAccess, an
// argument of Router::add); server/security/access_policy judges it.
// Called once by main() before the HTTP server starts; the handlers keep a
// reference to the ServerStore, which outlives the server.

namespace corvus::server {
class ServerStore;
namespace http {
class Router;
}
}  // namespace corvus::server

namespace corvus::server::handlers {

void register_database_routes(http::Router& router, ServerStore& store);   // databases_handler.cc
void register_topology_routes(http::Router& router, ServerStore& store);   // topology_handler.cc
void register_document_routes(http::Router& router, ServerStore& store);   // docs_handler.cc
void register_batch_routes(http::Router& router, ServerStore& store);      // batch_handler.cc
void register_hilo_routes(http::Router& router, ServerStore& store);       // hilo_handler.cc
void register_operations_routes(http::Router& router, ServerStore& store); // operations_handler.cc
void register_cluster_routes(http::Router& router, ServerStore& store);    // server/cluster/cluster_handlers.cc
void register_compare_exchange_routes(http::Router& router, ServerStore& store);  // compare_exchange_handler.cc
void register_failpoint_routes(http::Router& router, ServerStore& store);  // failpoints_handler.cc (tests only)
void register_multi_get_routes(http::Router& router, ServerStore& store);  // multi_get_handler.cc
void register_attachment_routes(http::Router& router, ServerStore& store);  // attachments_handler.cc
void register_counter_routes(http::Router& router, ServerStore& store);    // counters_handler.cc
void register_revisions_routes(http::Router& router, ServerStore& store);  // revisions_handler.cc
void register_replication_routes(http::Router& router, ServerStore& store);  // replication_handler.cc
void register_certificate_routes(http::Router& router, ServerStore& store);  // certificates_handler.cc
void register_database_operations_routes(http::Router& router, ServerStore& store);  // database_operations_handler.cc
void register_bulk_insert_routes(http::Router& router, ServerStore& store);  // bulk_insert_handler.cc
void register_query_routes(http::Router& router, ServerStore& store);        // queries_handler.cc
void register_index_routes(http::Router& router, ServerStore& store);        // indexes_handler.cc
void register_stream_routes(http::Router& router, ServerStore& store);       // streams_handler.cc
void register_changes_routes(http::Router& router, ServerStore& store);      // changes_handler.cc
void register_subscription_routes(http::Router& router, ServerStore& store);  // subscriptions_handler.cc
void register_identity_routes(http::Router& router, ServerStore& store);      // identities_handler.cc
void register_patch_routes(http::Router& router, ServerStore& store);         // patch_handler.cc
void register_patch_by_query_routes(http::Router& router, ServerStore& store);  // patch_by_query_handler.cc
void register_pull_replication_routes(http::Router& router, ServerStore& store);  // pull_replication_handler.cc
void register_external_replication_routes(http::Router& router, ServerStore& store);  // external_replication_handler.cc

inline void register_all_routes(http::Router& router, ServerStore& store) {
  register_database_routes(router, store);
  register_topology_routes(router, store);
  register_document_routes(router, store);
  register_batch_routes(router, store);
  register_hilo_routes(router, store);
  register_operations_routes(router, store);
  register_cluster_routes(router, store);
  register_compare_exchange_routes(router, store);
  register_failpoint_routes(router, store);
  register_multi_get_routes(router, store);
  register_attachment_routes(router, store);
  register_counter_routes(router, store);
  register_revisions_routes(router, store);
  register_replication_routes(router, store);
  register_certificate_routes(router, store);
  register_database_operations_routes(router, store);
  register_bulk_insert_routes(router, store);
  register_query_routes(router, store);
  register_index_routes(router, store);
  register_stream_routes(router, store);
  register_changes_routes(router, store);
  register_subscription_routes(router, store);
  register_identity_routes(router, store);
  register_patch_routes(router, store);
  register_patch_by_query_routes(router, store);
  register_pull_replication_routes(router, store);
  register_external_replication_routes(router, store);
}

}  // namespace corvus::server::handlers
