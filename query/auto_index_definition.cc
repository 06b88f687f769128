#include "query/auto_index_definition.h"

#include <algorithm>

#include <boost/json.hpp>

#include "storage/document.h"

namespace corvus::query {

AutoIndexDefinition make_auto_index_definition(std::string collection, std::vector<FieldPath> fields) {
  for (auto& f : fields) {
    f.alias.clear();
    f.position = 0;
  }
  auto by_text = [](const FieldPath& a, const FieldPath& b) { return a.text < b.text; };
  std::sort(fields.begin(), fields.end(), by_text);
  fields.erase(std::unique(fields.begin(), fields.end(),
                           [](const FieldPath& a, const FieldPath& b) { return a.text == b.text; }),
               fields.end());
  return AutoIndexDefinition{std::move(collection), std::move(fields)};
}

std::string AutoIndexDefinition::name() const {
  std::string out = "Auto/" + (collection.empty() ? std::string("AllDocs") : collection) + "/By";
  if (fields.empty()) return out + "Id";  // RavenDB's name for an index of ids only
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += "And";
    out += fields[i].text;
  }
  return out;
}

int AutoIndexDefinition::field_number(std::string_view path) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].text == path) return static_cast<int>(i);
  return -1;
}

bool AutoIndexDefinition::covers(const AutoIndexDefinition& other) const {
  if (storage::lower_id(collection) != storage::lower_id(other.collection)) return false;
  for (const auto& f : other.fields)
    if (field_number(f.text) < 0) return false;
  return true;
}

AutoIndexDefinition AutoIndexDefinition::merged_with(const AutoIndexDefinition& other) const {
  std::vector<FieldPath> all = fields;
  all.insert(all.end(), other.fields.begin(), other.fields.end());
  return make_auto_index_definition(collection, std::move(all));
}

std::string AutoIndexDefinition::to_json() const {
  boost::json::array f;
  for (const auto& field : fields) {
    boost::json::array segments;
    for (const auto& seg : field.segments) segments.push_back(boost::json::object{{"Name", seg.name}, {"Each", seg.each}});
    f.push_back(boost::json::object{{"Text", field.text}, {"Segments", std::move(segments)}});
  }
  return boost::json::serialize(boost::json::object{{"Collection", collection}, {"Fields", std::move(f)}});
}

Result<AutoIndexDefinition> AutoIndexDefinition::from_json(std::string_view stored) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(stored, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* c = o ? o->if_contains("Collection") : nullptr;
  const auto* f = o ? o->if_contains("Fields") : nullptr;
  if (!c || !c->is_string() || !f || !f->is_array()) return Status::Corruption("unreadable auto-index definition");
  std::vector<FieldPath> fields;
  for (const auto& e : f->as_array()) {
    const auto* fo = e.if_object();
    const auto* text = fo ? fo->if_contains("Text") : nullptr;
    const auto* segments = fo ? fo->if_contains("Segments") : nullptr;
    if (!text || !text->is_string() || !segments || !segments->is_array())
      return Status::Corruption("unreadable auto-index definition");
    FieldPath path;
    path.text = std::string(text->as_string());
    for (const auto& seg : segments->as_array()) {
      const auto* so = seg.if_object();
      const auto* name = so ? so->if_contains("Name") : nullptr;
      const auto* each = so ? so->if_contains("Each") : nullptr;
      if (!name || !name->is_string() || !each || !each->is_bool())
        return Status::Corruption("unreadable auto-index definition");
      path.segments.push_back({std::string(name->as_string()), each->as_bool()});
    }
    fields.push_back(std::move(path));
  }
  return make_auto_index_definition(std::string(c->as_string()), std::move(fields));
}

}  // namespace corvus::query
