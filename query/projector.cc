#include "query/projector.h"

#include <set>

#include <boost/json/serialize.hpp>

#include "query/field_values.h"
#include "query/operand_value.h"
#include "query/value_comparison.h"

namespace corvus::query {

namespace json = boost::json;

namespace {

// Appends what `segments[index..]` reaches from `value` to `out`. `expanded`
// becomes true when an array was walked through (`x[]`, or a segment applied
// to an array): the projection is then the array of the values reached, even
// for one or none.
void gather(const json::value& value, const std::vector<FieldPath::Segment>& segments, size_t index,
            json::array& out, bool& expanded) {
  if (index == segments.size()) {
    out.push_back(value);
    return;
  }
  if (const auto* array = value.if_array()) {
    expanded = true;
    for (const auto& element : *array) gather(element, segments, index, out, expanded);
    return;
  }
  const auto* object = value.if_object();
  if (object == nullptr) return;
  const auto* child = object->if_contains(segments[index].name);
  if (child == nullptr) return;
  if (segments[index].each && child->is_array()) {
    expanded = true;
    for (const auto& element : child->get_array()) gather(element, segments, index + 1, out, expanded);
    return;
  }
  gather(*child, segments, index + 1, out, expanded);
}

json::value project_path(const json::value& document, const FieldPath& path) {
  json::array reached;
  bool expanded = false;
  gather(document, path.segments, 0, reached, expanded);
  if (expanded) return reached;
  if (reached.empty()) return nullptr;
  return std::move(reached.front());
}

json::value without_metadata(const json::value& document) {
  if (!document.is_object()) return document;
  json::object body = document.get_object();
  body.erase("@metadata");
  return body;
}

std::string first_string(const json::value& document, const FieldPath& path) {
  std::vector<const json::value*> values;
  collect_field_values(document, path, values);
  for (const auto* value : values) {
    if (value->is_string()) return std::string(value->get_string());
  }
  return "";
}

std::string where(const FieldPath& path) {
  return "'" + (path.alias.empty() ? path.text : path.alias + "." + path.text) + "' (at position " +
         std::to_string(path.position) + ")";
}

}  // namespace

Result<Projector> Projector::compile(const Query& query, const json::object& parameters) {
  Projector projector;
  // Aliases compare case-insensitively, as RavenDB compares them.
  auto is_queried = [&](const std::string& alias) {
    return alias.empty() || equals_ignore_case(alias, query.alias);
  };

  for (const auto& load : query.loads) {
    // RavenDB can also load through an earlier load's alias (`load u.Company as c,
    // c.Owner as o`); that needs the runner to load in steps, which it does not.
    if (!is_queried(load.path.alias)) {
      return Status::InvalidArgument("load " + where(load.path) + " as " + load.alias +
                                     ": loading through another loaded document is not supported");
    }
    if (load.path.is_id || load.path.segments.empty()) {
      return Status::InvalidArgument("load " + where(load.path) + " as " + load.alias +
                                     ": a load needs the path of a field holding the id");
    }
    projector.load_paths_.push_back(load.path);
  }

  std::set<std::string> names;
  for (const auto& projection : query.select) {
    Field field;
    field.name = projection.name;
    field.path = projection.field;
    if (projection.counter) {
      auto name = resolve_operand(*projection.counter, parameters);
      if (!name.ok()) return name.status();
      if (!name.value().is_string() || name.value().as_string().empty()) {
        return Status::InvalidArgument("select counter() (at position " + std::to_string(projection.field.position) +
                                       "): the counter name must be a non-empty string, not " +
                                       json::serialize(name.value()));
      }
      if (field.name.empty()) field.name = name.value().as_string();
      field.counter = projector.counter_names_.size();
      projector.counter_names_.emplace_back(name.value().as_string());
    } else if (!is_queried(projection.field.alias)) {
      size_t i = 0;
      while (i < query.loads.size() && !equals_ignore_case(query.loads[i].alias, projection.field.alias)) ++i;
      if (i == query.loads.size()) {
        return Status::InvalidArgument("select " + where(projection.field) + ": unknown alias '" +
                                       projection.field.alias + "'");
      }
      field.source = i;
    }
    if (!projection.counter && !projection.field.is_id && projection.field.segments.empty()) {
      if (projection.field.alias.empty()) {
        return Status::InvalidArgument("select " + where(projection.field) + ": empty field path");
      }
      field.whole_document = true;
    }
    if (field.name.empty()) {
      return Status::InvalidArgument("select " + where(projection.field) + ": the projection has no name");
    }
    if (!names.insert(field.name).second) {
      return Status::InvalidArgument("select " + where(projection.field) + ": duplicate alias '" + field.name +
                                     "' (name one of them with `as`)");
    }
    projector.fields_.push_back(std::move(field));
  }
  return projector;
}

std::vector<std::string> Projector::load_ids(const json::value& document) const {
  std::vector<std::string> ids;
  ids.reserve(load_paths_.size());
  for (const auto& path : load_paths_) ids.push_back(first_string(document, path));
  return ids;
}

json::object Projector::project(const json::value& document, std::string_view id,
                                const std::vector<const json::value*>& loaded,
                                const std::vector<std::optional<int64_t>>& counters) const {
  json::object result;
  for (const auto& field : fields_) {
    if (field.counter) {
      const auto i = *field.counter;
      result[field.name] = i < counters.size() && counters[i] ? json::value(*counters[i]) : json::value(nullptr);
      continue;
    }
    const json::value* source = &document;
    if (field.source != kQueried) source = field.source < loaded.size() ? loaded[field.source] : nullptr;

    json::value value;  // null unless something is reached
    if (source == nullptr) {
      // A load that found nothing: every projection from it is null.
    } else if (field.path.is_id) {
      if (field.source == kQueried) {
        value = json::string(id);
      } else {
        // The id the loaded document was loaded by.
        value = json::string(first_string(document, load_paths_[field.source]));
      }
    } else if (field.whole_document) {
      value = without_metadata(*source);
    } else {
      value = project_path(*source, field.path);
    }
    result[field.name] = std::move(value);
  }
  return result;
}

}  // namespace corvus::query
