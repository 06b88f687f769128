// BlobStore and attachments storage: references counted once per hash, the
// last reference frees the bytes after its commit, a deleted document drops its
// attachments, and a crash mid-upload leaves nothing behind after reopening.

#include "storage/attachments_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>

#include "storage/blob_store.h"
#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

std::unique_ptr<DocumentsStorage> open_at(const std::string& dir) {
  auto s = DocumentsStorage::open(dir, StorageOptions{});
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  return std::move(s).value();
}

void put_doc(DocumentsStorage& s, const std::string& id) {
  Status st = s.write([&](WriteTransaction& txn) -> Status {
    auto body = boost::json::parse("{\"x\":1,\"@metadata\":{\"@collection\":\"Users\"}}").as_object();
    auto r = txn.put(id, body, std::nullopt);
    return r.ok() ? Status::Ok() : r.status();
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

// Uploads `bytes` and attaches them as (id, name); returns the write's status.
Status attach(DocumentsStorage& s, const std::string& id, const std::string& name, const std::string& bytes,
              AttachmentWriteResult* out = nullptr) {
  auto stored = s.blob_store()->store(bytes);
  REQUIRE(stored.ok());
  return s.write([&](WriteTransaction& txn) -> Status {
    auto r = put_attachment(txn, id, name, "image/png", stored->hash, stored->size, std::nullopt);
    if (!r.ok()) return r.status();
    if (out) *out = r.value();
    return Status::Ok();
  });
  // stored.pin goes here: after the commit (or the failure, which collects the blob)
}

boost::json::object metadata_of(DocumentsStorage& s, const std::string& id) {
  auto doc = s.get(id);
  REQUIRE(doc.ok());
  return boost::json::parse(doc->json).as_object()["@metadata"].as_object();
}

// The merger queues the unlink scheduled by a commit once a later batch is
// durable; the blob store's collector then does it.
void settle(DocumentsStorage& s) {
  REQUIRE(s.write([](WriteTransaction&) { return Status::Ok(); }).ok());
  REQUIRE(s.write([](WriteTransaction&) { return Status::Ok(); }).ok());
  s.blob_store()->wait_for_collector();
}

}  // namespace

TEST_CASE("attachments: put lists the attachment in @attachments sorted by name, with HasAttachments") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_doc(*s, "users/1");
  AttachmentWriteResult r;
  REQUIRE(attach(*s, "users/1", "b.png", "bee", &r).ok());
  CHECK(r.attachment.hash == sha256_base64("bee"));
  CHECK(r.attachment.size == 3);
  REQUIRE(attach(*s, "users/1", "A.png", "ay").ok());
  auto md = metadata_of(*s, "users/1");
  CHECK(md["@flags"].as_string() == "HasAttachments");
  auto& list = md["@attachments"].as_array();
  REQUIRE(list.size() == 2);
  CHECK(list[0].as_object()["Name"].as_string() == "A.png");
  CHECK(list[1].as_object()["Name"].as_string() == "b.png");
  CHECK(list[1].as_object()["Hash"].as_string() == sha256_base64("bee"));
  CHECK(list[1].as_object()["Size"].to_number<uint64_t>() == 3);
  CHECK(list[1].as_object()["ContentType"].as_string() == "image/png");

  auto read = read_attachment(*s, "USERS/1", "B.PNG");
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  CHECK((*read)->name == "b.png");
  CHECK((*read)->document_id == "users/1");
  auto blob = s->blob_store()->open_blob((*read)->hash);
  REQUIRE(blob.ok());
  char buf[8];
  auto n = (*blob)->read_at(0, buf, sizeof buf);
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == "bee");
}

TEST_CASE("attachments: the same bytes are stored once; the last reference frees them") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_doc(*s, "users/1");
  put_doc(*s, "users/2");
  const std::string picture(100000, 'p');
  const std::string hash = sha256_base64(picture);
  REQUIRE(attach(*s, "users/1", "pic", picture).ok());
  REQUIRE(attach(*s, "users/2", "pic", picture).ok());
  CHECK(s->blob_store()->blob_count().value() == 1);
  CHECK(s->read_count(meta_keys::kAttachmentCount).value() == 2);
  CHECK(s->read_count(meta_keys::kUniqueAttachmentCount).value() == 1);

  // Deleting one document's attachment keeps the bytes for the other.
  REQUIRE(s->write([](WriteTransaction& txn) -> Status {
            auto r = delete_attachment(txn, "users/1", "pic", std::nullopt);
            return r.ok() ? Status::Ok() : r.status();
          }).ok());
  settle(*s);
  CHECK(s->blob_store()->has_blob(hash));
  CHECK(s->read_count(meta_keys::kAttachmentCount).value() == 1);
  CHECK(s->read_count(meta_keys::kUniqueAttachmentCount).value() == 1);
  CHECK(metadata_of(*s, "users/1").if_contains("@attachments") == nullptr);
  CHECK(metadata_of(*s, "users/1").if_contains("@flags") == nullptr);

  // Deleting the other document drops the last reference: the blob goes.
  REQUIRE(s->write([](WriteTransaction& txn) -> Status {
            auto r = txn.remove("users/2", std::nullopt);
            return r.ok() ? Status::Ok() : r.status();
          }).ok());
  settle(*s);
  CHECK_FALSE(s->blob_store()->has_blob(hash));
  CHECK(s->blob_store()->blob_count().value() == 0);
  CHECK(s->read_count(meta_keys::kAttachmentCount).value() == 0);
  CHECK(s->read_count(meta_keys::kUniqueAttachmentCount).value() == 0);
  auto gone = read_attachment(*s, "users/2", "pic");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
}

TEST_CASE("attachments: a rolled back drop keeps the blob; a failed put collects its upload") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_doc(*s, "users/1");
  const std::string hash = sha256_base64("data");
  REQUIRE(attach(*s, "users/1", "a", "data").ok());
  Status st = s->write([](WriteTransaction& txn) -> Status {
    auto r = delete_attachment(txn, "users/1", "a", std::nullopt);
    if (!r.ok()) return r.status();
    return Status::InvalidArgument("roll back");
  });
  CHECK(st.is_invalid_argument());
  settle(*s);
  CHECK(s->blob_store()->has_blob(hash));
  auto still = read_attachment(*s, "users/1", "a");
  REQUIRE(still.ok());
  CHECK(still->has_value());

  // No such document: NotFound, and the uploaded bytes do not stay.
  const uint64_t etag_before = s->stats().last_etag;
  Status missing = attach(*s, "users/404", "a", "other bytes");
  CHECK(missing.is_not_found());
  s->blob_store()->wait_for_collector();
  CHECK(s->stats().last_etag == etag_before);
  CHECK_FALSE(s->blob_store()->has_blob(sha256_base64("other bytes")));
  CHECK(s->blob_store()->blob_count().value() == 1);
}

TEST_CASE("attachments: expected change vector is checked") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_doc(*s, "users/1");
  AttachmentWriteResult r;
  REQUIRE(attach(*s, "users/1", "a", "one", &r).ok());
  auto stored = s->blob_store()->store("two");
  REQUIRE(stored.ok());
  Status st = s->write([&](WriteTransaction& txn) -> Status {
    auto w = put_attachment(txn, "users/1", "a", "x", stored->hash, stored->size, std::string("A:1-wrong"));
    return w.ok() ? Status::Ok() : w.status();
  });
  CHECK(st.is_concurrency_conflict());
  st = s->write([&](WriteTransaction& txn) -> Status {
    auto w = put_attachment(txn, "users/1", "a", "x", stored->hash, stored->size, r.attachment.change_vector);
    return w.ok() ? Status::Ok() : w.status();
  });
  CHECK(st.ok());
}

TEST_CASE("attachments: restart after a crash mid-upload cleans temp files and unreferenced blobs") {
  testing::TempDir dir;
  std::string referenced_hash;
  {
    auto s = open_at(dir.path());
    put_doc(*s, "users/1");
    REQUIRE(attach(*s, "users/1", "kept", "kept bytes").ok());
    referenced_hash = sha256_base64("kept bytes");
    // An upload cut off mid-way (its temp file stays, as after kill -9)...
    auto up = s->blob_store()->begin_upload();
    REQUIRE(up.ok());
    REQUIRE((*up)->append("half of an upl").ok());
    std::string blobs = s->blob_store()->dir();
    // ...simulated by copying the half file aside before the Upload cleans up.
    std::filesystem::copy_file(blobs + "/tmp/" + std::filesystem::directory_iterator(blobs + "/tmp")->path().filename().string(),
                               blobs + "/tmp/crashed");
    // And a blob renamed into place whose reference never committed.
    std::ofstream(s->blob_store()->path_of(sha256_base64("orphan"))) << "orphan";
  }
  const std::string blobs = dir.path() + "/blobs";
  REQUIRE(std::filesystem::exists(blobs + "/tmp/crashed"));
  auto s = open_at(dir.path());
  CHECK(std::filesystem::is_empty(blobs + "/tmp"));
  CHECK(s->blob_store()->has_blob(referenced_hash));
  CHECK_FALSE(s->blob_store()->has_blob(sha256_base64("orphan")));
  CHECK(s->blob_store()->blob_count().value() == 1);
}

TEST_CASE("blob store: a pinned blob survives a collect; unpinning collects it") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  auto stored = s->blob_store()->store("pinned");
  REQUIRE(stored.ok());
  s->blob_store()->collect(stored->hash);
  s->blob_store()->wait_for_collector();
  CHECK(s->blob_store()->has_blob(stored->hash));
  REQUIRE(s->blob_store()->collect_unreferenced().ok());
  CHECK(s->blob_store()->has_blob(stored->hash));
  stored->pin.reset();
  s->blob_store()->wait_for_collector();
  CHECK_FALSE(s->blob_store()->has_blob(stored->hash));
}

TEST_CASE("attachments: copy adds a reference to the same bytes; the source's change vector is checked; the destination must be new") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_doc(*s, "users/1");
  put_doc(*s, "users/2");
  AttachmentWriteResult src;
  REQUIRE(attach(*s, "users/1", "a", "shared", &src).ok());
  Status wrong = s->write([](WriteTransaction& txn) -> Status {
    auto r = copy_attachment(txn, "users/1", "a", "users/2", "b", std::string("A:99-nope"));
    return r.ok() ? Status::Ok() : r.status();
  });
  CHECK(wrong.is_concurrency_conflict());
  REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
            auto r = copy_attachment(txn, "users/1", "a", "users/2", "b", src.attachment.change_vector);
            return r.ok() ? Status::Ok() : r.status();
          }).ok());
  auto copied = read_attachment(*s, "users/2", "b");
  REQUIRE(copied.ok());
  REQUIRE(copied->has_value());
  CHECK((*copied)->hash == src.attachment.hash);
  CHECK(s->blob_store()->blob_count().value() == 1);
  // Onto an attachment that exists: a concurrency violation, nothing written.
  const uint64_t etag_before = (*copied)->etag;
  Status onto_existing = s->write([](WriteTransaction& txn) -> Status {
    auto r = copy_attachment(txn, "users/1", "a", "users/2", "b", std::nullopt);
    return r.ok() ? Status::Ok() : r.status();
  });
  CHECK(onto_existing.is_concurrency_conflict());
  auto unchanged = read_attachment(*s, "users/2", "b");
  REQUIRE(unchanged.ok());
  REQUIRE(unchanged->has_value());
  CHECK((*unchanged)->etag == etag_before);
  REQUIRE(s->write([](WriteTransaction& txn) -> Status {
            auto r = txn.remove("users/1", std::nullopt);
            return r.ok() ? Status::Ok() : r.status();
          }).ok());
  settle(*s);
  CHECK(s->blob_store()->has_blob(src.attachment.hash));
  Status missing = s->write([](WriteTransaction& txn) -> Status {
    auto r = copy_attachment(txn, "users/1", "a", "users/2", "c", std::nullopt);
    return r.ok() ? Status::Ok() : r.status();
  });
  CHECK(missing.is_not_found());
}
