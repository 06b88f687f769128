#include "server/handlers/batch_commands.h"

#include <utility>

#include "server/handlers/attachment_batch_commands.h"
#include "server/handlers/counter_batch_command.h"
#include "server/handlers/document_batch_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/patch_batch_command.h"
#include "server/handlers/revision_batch_commands.h"

namespace corvus::server::handlers {
namespace {

constexpr std::pair<std::string_view, BatchCommandParser> kParsers[] = {
    {"PUT", parse_put_command},
    {"DELETE", parse_delete_command},
    {"Counters", parse_counters_command},
    {"AttachmentPUT", parse_attachment_put_command},
    {"AttachmentDELETE", parse_attachment_delete_command},
    {"AttachmentCOPY", parse_attachment_copy_command},
    {"AttachmentMOVE", parse_attachment_move_command},
    {"ForceRevisionCreation", parse_force_revision_command},
    {"PATCH", parse_patch_command},
    {"BatchPATCH", parse_batch_patch_command},
};

}  // namespace

Result<CommandView> command_at(const boost::json::value& c, size_t index) {
  CommandView v{"Command #" + std::to_string(index), nullptr, ""};
  if (!c.is_object()) return Status::InvalidArgument(v.where + " must be a JSON object");
  v.o = &c.as_object();
  const auto* type = v.o->if_contains("Type");
  if (!type || !type->is_string()) return Status::InvalidArgument(v.where + " has no \"Type\"");
  v.type = std::string(type->as_string());
  return v;
}

BatchCommandParser batch_command_parser(std::string_view type) {
  for (const auto& [name, parser] : kParsers) {
    if (name == type) return parser;
  }
  return nullptr;
}

std::string supported_batch_commands() {
  std::string out;
  for (const auto& [name, parser] : kParsers) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Result<std::string> required_string(const CommandView& c, const char* field) {
  const auto* v = c.o->if_contains(field);
  if (!v || !v->is_string()) return Status::InvalidArgument(c.where + " has no string \"" + field + "\"");
  return std::string(v->as_string());
}

Result<std::optional<std::string>> optional_change_vector(const CommandView& c, const char* field) {
  const auto* cv = c.o->if_contains(field);
  if (!cv || cv->is_null()) return std::optional<std::string>();
  if (!cv->is_string()) return Status::InvalidArgument(c.where + ": \"" + field + "\" must be a string or null");
  if (Status s = validate_change_vector(cv->as_string()); !s.ok()) return Status::InvalidArgument(c.where + ": " + s.message());
  return std::optional<std::string>(std::string(cv->as_string()));
}

}  // namespace corvus::server::handlers
