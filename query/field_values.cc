#include "query/field_values.h"

namespace corvus::query {

namespace json = boost::json;

namespace {

void append_flattened(const json::value& value, std::vector<const json::value*>& out) {
  if (const auto* array = value.if_array()) {
    for (const auto& element : *array) append_flattened(element, out);
    return;
  }
  out.push_back(&value);
}

void walk(const json::value& value, const std::vector<FieldPath::Segment>& segments, size_t index,
          std::vector<const json::value*>& out) {
  if (index == segments.size()) {
    append_flattened(value, out);
    return;
  }
  // A segment applied to an array reads each element: `Lines.Product` on an array
  // of lines reaches every line's Product, as `Lines[].Product` does.
  if (const auto* array = value.if_array()) {
    for (const auto& element : *array) walk(element, segments, index, out);
    return;
  }
  const auto* object = value.if_object();
  if (object == nullptr) return;
  const auto* child = object->if_contains(segments[index].name);
  if (child == nullptr) return;
  // `name[]` needs nothing more: the array at name is expanded by the step above
  // (or by append_flattened when the path ends here).
  walk(*child, segments, index + 1, out);
}

}  // namespace

void collect_field_values(const json::value& document, const FieldPath& path,
                          std::vector<const json::value*>& out) {
  if (path.segments.empty()) return;
  walk(document, path.segments, 0, out);
}

}  // namespace corvus::query
