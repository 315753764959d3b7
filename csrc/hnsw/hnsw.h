// lookalike HNSW: a Hierarchical Navigable Small World graph index (Malkov & Yashunin, 2016).
//
// Layout: every node's level-0 record (vector, link count + flags, links, label) sits in one
// 64-byte-aligned slot of a single allocation, the vector first so it never straddles an extra
// cache line. Upper levels (about 1/M of the nodes) have their own small link arrays.
// Search keeps one sorted candidate pool of size ef (expanded flag in the id's top bit) instead of
// two heaps; unvisited neighbours are gathered and prefetched before any distance is computed.
// Removal marks a node deleted (still traversed, never returned); its slot is reused by a later add.
// Several threads may add at once (per-node locks; a node being inserted keeps the back-links other
// threads give it meanwhile); the bindings refill reused slots on one thread.
// Files: magic, version, header, sections, 64-bit checksum; every field is validated on load.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "distances.h"

namespace lookalike {
namespace hnsw {

using label_t = int64_t;
using node_t = uint32_t;

enum class Space : uint32_t { L2 = 0, IP = 1 };

// A saved file is truncated, corrupted or of another format.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// 64-bit checksum (xxHash64-style four-lane mixing; written here, not a dependency).
namespace detail {
constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL,
                   P4 = 0x85EBCA77C2B2AE63ULL, P5 = 0x27D4EB2F165667C5ULL;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t rd64(const unsigned char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline uint64_t lane(uint64_t acc, uint64_t in) { return rotl(acc + in * P2, 31) * P1; }
inline uint64_t merge(uint64_t acc, uint64_t v) { return (acc ^ lane(0, v)) * P1 + P4; }
}  // namespace detail

inline uint64_t checksum64(const void* data, std::size_t len, uint64_t seed) {
  using namespace detail;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const unsigned char* end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    for (; p + 32 <= end; p += 32) {
      v1 = lane(v1, rd64(p)); v2 = lane(v2, rd64(p + 8)); v3 = lane(v3, rd64(p + 16)); v4 = lane(v4, rd64(p + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + P5;
  }
  h += static_cast<uint64_t>(len);
  for (; p + 8 <= end; p += 8) h = rotl(h ^ lane(0, rd64(p)), 27) * P1 + P4;
  for (; p < end; ++p) h = rotl(h ^ (static_cast<uint64_t>(*p) * P5), 11) * P1;
  h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
  return h;
}

// ---------------------------------------------------------------------------------------------
// Visited marks: one 16-bit tag per node; "clearing" is a tag bump, a real clear every 65535 uses.
struct VisitedList {
  uint16_t tag = 0;
  std::vector<uint16_t> marks;
  explicit VisitedList(std::size_t n) : marks(n, 0) {}
  void reset() {
    if (++tag == 0) {
      std::fill(marks.begin(), marks.end(), 0);
      tag = 1;
    }
  }
};

class VisitedPool {
 public:
  explicit VisitedPool(std::size_t n) : n_(n) {}
  std::unique_ptr<VisitedList> get() {
    std::unique_ptr<VisitedList> v;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!free_.empty()) { v = std::move(free_.back()); free_.pop_back(); }
    }
    if (!v) v.reset(new VisitedList(n_));
    v->reset();
    return v;
  }
  void put(std::unique_ptr<VisitedList> v) {
    std::lock_guard<std::mutex> g(mu_);
    free_.push_back(std::move(v));
  }
 private:
  std::size_t n_;
  std::mutex mu_;
  std::vector<std::unique_ptr<VisitedList>> free_;
};

struct VisitedLease {  // RAII: a visited list borrowed from the pool
  VisitedPool& pool;
  std::unique_ptr<VisitedList> list;
  explicit VisitedLease(VisitedPool& p) : pool(p), list(p.get()) {}
  ~VisitedLease() { pool.put(std::move(list)); }
};

// ---------------------------------------------------------------------------------------------
// Sorted candidate pool: the ef best nodes seen, nearest first; the top bit of `id` marks expanded.
struct Cand {
  float d;
  uint32_t id;
};
constexpr uint32_t kExpanded = 0x80000000u;

class CandPool {
 public:
  void reset(std::size_t cap) {
    cap_ = cap; n_ = 0; cur_ = 0;
    if (buf_.size() < cap + 1) buf_.resize(cap + 1);
  }
  std::size_t size() const { return n_; }
  bool full() const { return n_ >= cap_; }
  float worst() const { return buf_[n_ - 1].d; }
  // Insert if among the best cap; keeps `cur_` at the first unexpanded entry.
  void insert(float d, uint32_t id) {
    if (n_ >= cap_ && d >= buf_[n_ - 1].d) return;
    std::size_t lo = 0, hi = n_;
    while (lo < hi) {  // first position with d < buf[pos].d
      std::size_t mid = (lo + hi) >> 1;
      if (buf_[mid].d <= d) lo = mid + 1; else hi = mid;
    }
    std::size_t tail = (n_ < cap_ ? n_ : cap_ - 1) - lo;
    if (tail) std::memmove(&buf_[lo + 1], &buf_[lo], tail * sizeof(Cand));
    buf_[lo] = {d, id};
    if (n_ < cap_) ++n_;
    if (lo < cur_) cur_ = lo;
  }
  // Next unexpanded entry (marked expanded now), or -1.
  long pop_next() {
    while (cur_ < n_ && (buf_[cur_].id & kExpanded)) ++cur_;
    if (cur_ >= n_) return -1;
    buf_[cur_].id |= kExpanded;
    return static_cast<long>(cur_);
  }
  const Cand& operator[](std::size_t i) const { return buf_[i]; }
  uint32_t id(std::size_t i) const { return buf_[i].id & ~kExpanded; }
 private:
  std::vector<Cand> buf_;
  std::size_t cap_ = 0, n_ = 0, cur_ = 0;
};

struct SearchScratch {
  CandPool pool;
  std::vector<Cand> wide;  // the ef best, for searches wider than the sorted pool handles well
  std::vector<Cand> deleted_heap;  // min-heap of deleted nodes still to expand
  std::vector<uint32_t> gather;
};

inline SearchScratch& scratch() {
  thread_local SearchScratch s;
  return s;
}

// ---------------------------------------------------------------------------------------------
struct Params {
  std::size_t dim = 0;
  Space space = Space::L2;
  std::size_t M = 16;
  std::size_t ef_construction = 200;
  std::size_t ef = 10;
  uint64_t seed = 100;
};

class Index {
 public:
  static constexpr uint32_t kVersion = 1;
  static constexpr char kMagic[8] = {'L', 'K', 'H', 'N', 'S', 'W', '\r', '\n'};
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr uint32_t kDeletedFlag = 1u << 16;
  static constexpr std::size_t kMaxLevel = 32;
  static constexpr std::size_t kMaxM = 2048;  // level-0 lists hold up to 2 * kMaxM links
  // Beams wider than this use two heaps: inserting into a sorted pool moves O(ef) entries, which
  // dominates past a few thousand (measured on 200k Gaussian vectors: 0.6x hnswlib at ef 16,384).
  static constexpr std::size_t kSortedPoolMax = 2048;

  Index(const Params& p, std::size_t capacity) : p_(p) {
    if (p.dim == 0 || p.dim > 65536) throw std::invalid_argument("dim must be in 1..65536");
    if (p.M < 2 || p.M > kMaxM) throw std::invalid_argument("M must be in 2..2048");
    if (p.ef_construction < 1) throw std::invalid_argument("ef_construction must be at least 1");
    if (p.ef < 1) throw std::invalid_argument("ef must be at least 1");
    M0_ = 2 * p_.M;
    ef_construction_ = std::max(p_.ef_construction, p_.M);
    level_mult_ = 1.0 / std::log(static_cast<double>(p_.M));
    layout();
    kernels_ = select_kernels(std::getenv("LOOKALIKE_HNSW_ISA"));
    dist_ = p_.space == Space::L2 ? kernels_.l2 : kernels_.ip;
    rng_.seed(p_.seed);
    resize(std::max<std::size_t>(capacity, 16));
  }
  ~Index() { std::free(data0_); }
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // --- properties ---
  std::size_t dim() const { return p_.dim; }
  Space space() const { return p_.space; }
  std::size_t M() const { return p_.M; }
  std::size_t ef_construction() const { return p_.ef_construction; }
  std::size_t ef() const { return p_.ef; }
  void set_ef(std::size_t ef) {
    if (ef < 1) throw std::invalid_argument("ef must be at least 1");
    p_.ef = ef;
  }
  std::size_t capacity() const { return capacity_; }
  std::size_t slots() const { return count_.load(); }  // used slots, deleted included
  // A beam as wide as the index: such a search starts at the entry point and is exact once swept.
  bool full_effort(std::size_t k, std::size_t ef) const { return std::max(ef, k) >= count_.load(); }
  std::size_t size() const {
    std::lock_guard<std::mutex> g(labels_mu_);
    return labels_.size();
  }
  std::size_t reusable_slots() const {  // deleted slots the next adds will fill
    std::lock_guard<std::mutex> g(labels_mu_);
    return free_.size();
  }
  std::size_t deleted_count() const {
    std::lock_guard<std::mutex> g(labels_mu_);
    return free_.size() + pinned_deleted_;
  }
  const char* isa() const { return kernels_.isa; }
  uint64_t distance_computations() const { return n_dist_.load(std::memory_order_relaxed); }
  void reset_stats() { n_dist_.store(0); }
  int max_level() const { return max_level_; }
  std::size_t record_bytes() const { return rec_; }
  std::size_t memory_bytes() const {
    std::size_t upper = 0;
    for (const auto& u : upper_) upper += u.capacity() * sizeof(uint32_t);
    return capacity_ * (rec_ + sizeof(int) + sizeof(std::mutex) + sizeof(std::vector<uint32_t>) + 2) + upper;
  }
  bool contains(label_t label) const {
    std::lock_guard<std::mutex> g(labels_mu_);
    return labels_.count(label) != 0;
  }

  // Grow (or shrink, never below the used slots) the capacity. Not concurrent with add/search.
  void resize(std::size_t cap) {
    std::unique_lock<std::shared_mutex> g(struct_mu_);
    if (cap < count_.load()) throw std::invalid_argument("cannot shrink below the number of stored slots");
    if (cap >= kExpanded) throw std::invalid_argument("capacity too large (at most 2^31 - 1 nodes)");
    char* nd = static_cast<char*>(std::aligned_alloc(64, std::max<std::size_t>(cap, 1) * rec_));
    if (!nd) throw std::bad_alloc();
    std::memset(nd, 0, std::max<std::size_t>(cap, 1) * rec_);
    if (data0_) std::memcpy(nd, data0_, count_.load() * rec_);
    std::free(data0_);
    data0_ = nd;
    levels_.resize(cap, 0);
    upper_.resize(cap);
    locks_.reset(new std::mutex[std::max<std::size_t>(cap, 1)]);
    pool_.reset(new VisitedPool(cap));
    capacity_ = cap;
  }

  // Insert one vector. Thread-safe (several threads may add at once).
  void add(const float* v, label_t label) {
    std::shared_lock<std::shared_mutex> sg(struct_mu_);
    node_t id;
    bool reuse = false;
    {
      std::lock_guard<std::mutex> g(labels_mu_);
      if (labels_.count(label)) throw std::invalid_argument("label " + std::to_string(label) + " is already in the index");
      if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
        reuse = true;
      } else {
        std::size_t c = count_.load();
        if (c >= capacity_) throw std::length_error("index is full; resize it first");
        id = static_cast<node_t>(c);
        count_.store(c + 1);
      }
      labels_[label] = id;
    }
    if (reuse) relink(id, v, label); else insert(id, v, label);
    unswept_.fetch_add(1);
  }
  // Nodes added since the last repair_reachability() sweep.
  std::size_t unswept() const { return unswept_.load(); }
  // Nodes that sweeps have linked back in so far (in this process).
  std::size_t repaired() const { return repaired_.load(); }

  // Mark the node of `label` deleted; returns false when the label is unknown.
  bool remove(label_t label) {
    std::shared_lock<std::shared_mutex> sg(struct_mu_);
    std::lock_guard<std::mutex> g(labels_mu_);
    auto it = labels_.find(label);
    if (it == labels_.end()) return false;
    node_t id = it->second;
    labels_.erase(it);
    header(id) |= kDeletedFlag;
    has_deleted_.store(true);
    if (id == static_cast<node_t>(entry_.load())) ++pinned_deleted_;  // the entry point is never reused
    else free_.push_back(id);
    return true;
  }

  // Make every live node reachable on level 0 from the entry point, which full-effort searches start
  // from; returns how many nodes were given a new in-link. The neighbour heuristic (in every HNSW) can
  // prune a node's last in-link, or cut off a small group that only links among itself, most often
  // at small M or when deleted slots are rewired; such nodes are unreachable at any ef. One
  // breadth-first sweep over level 0 (O(slots * M0) link reads) finds them; each is linked from its
  // nearest reachable node that has room, and the sweep goes on from it. Safe beside searches.
  std::size_t repair_reachability() {
    std::shared_lock<std::shared_mutex> sg(struct_mu_);
    std::lock_guard<std::mutex> one_at_a_time(repair_mu_);
    unswept_.store(0);
    const node_t entry = entry_.load();
    if (entry == kNone) return 0;
    std::size_t fixed = 0;
    VisitedLease reached_lease(*pool_), search_lease(*pool_);
    VisitedList& reached = *reached_lease.list;
    std::vector<node_t> queue;
    std::vector<Cand> cands;
    auto sweep_from = [&](node_t start) {  // mark everything reachable from `start`
      reached.marks[start] = reached.tag;
      queue.assign(1, start);
      while (!queue.empty()) {
        node_t cur = queue.back();
        queue.pop_back();
        const uint32_t* ll = links(cur, 0);  // read like a search reads (adds may run beside it)
        const uint32_t c = count_of(ll);
        for (uint32_t j = 1; j <= c; ++j) {
          const node_t nb = ll[j];
          if (reached.marks[nb] == reached.tag) continue;
          reached.marks[nb] = reached.tag;
          queue.push_back(nb);
        }
      }
    };
    // A forced link (every candidate full) may strand another node: sweep again, a few times at most.
    for (int pass = 0; pass < 8; ++pass) {
      if (pass > 0) reached.reset();
      sweep_from(entry);
      bool forced = false;
      const std::size_t n = count_.load();
      for (node_t x = 0; x < n; ++x) {
        if (reached.marks[x] == reached.tag || is_deleted(x)) continue;
        uint64_t nd = 0;
        SearchScratch& s = scratch();
        search_lease.list->reset();
        search0<true, true>(vec(x), entry, ef_construction_, s, *search_lease.list, nd, 0, x);
        collect(cands, s);
        if (cands.empty()) continue;  // nothing reachable is live: the next add links to x anyway
        node_t from = kNone;
        for (const Cand& c : cands) {
          if (reached.marks[c.id] != reached.tag) continue;  // found through a node linked meanwhile
          std::lock_guard<std::mutex> g(locks_[c.id]);
          uint32_t* ll = links(c.id, 0);
          uint32_t cnt = count_of(ll);
          if (cnt >= M0_) continue;
          ll[cnt + 1] = x;
          set_count(ll, cnt + 1);
          from = c.id;
          break;
        }
        if (from == kNone) {  // all full: the nearest gives up its farthest neighbour for x
          from = cands.front().id;
          std::lock_guard<std::mutex> g(locks_[from]);
          uint32_t* ll = links(from, 0);
          uint32_t cnt = count_of(ll), worst = 1;
          float wd = -1;
          for (uint32_t j = 1; j <= cnt; ++j) {
            float d = dist(vec(from), vec(ll[j]));
            if (d > wd) { wd = d; worst = j; }
          }
          ll[worst] = x;
          forced = true;
        }
        ++fixed;
        sweep_from(x);
      }
      if (!forced) break;
    }
    repaired_.fetch_add(fixed);
    return fixed;
  }

  // k nearest live nodes of q: fills dist[k], labels[k] (inf / -1 past the end). Thread-safe.
  void search(const float* q, std::size_t k, std::size_t ef, float* dist, label_t* labels) const {
    std::shared_lock<std::shared_mutex> sg(struct_mu_);
    for (std::size_t i = 0; i < k; ++i) { dist[i] = std::numeric_limits<float>::infinity(); labels[i] = -1; }
    uint32_t ep;
    int maxl;
    {
      std::lock_guard<std::mutex> g(entry_mu_);
      ep = entry_.load();
      maxl = max_level_;
    }
    if (ep == kNone || k == 0) return;
    uint64_t nd = 0;
    std::size_t pool_ef = std::max(ef, k);
    // Full effort (a beam as wide as the index) starts on level 0 at the entry point, from which
    // repair_reachability() guarantees every live node can be reached: the answer is exact.
    if (!full_effort(k, ef)) ep = greedy_descend(q, ep, maxl, 0, nd, false);
    SearchScratch& s = scratch();
    VisitedLease vl(*pool_);
    if (pool_ef > kSortedPoolMax) {  // very wide beams: two heaps (a sorted pool would memmove too much)
      if (has_deleted_.load()) search_wide<true>(q, ep, pool_ef, s, *vl.list, nd);
      else search_wide<false>(q, ep, pool_ef, s, *vl.list, nd);
      std::size_t n = std::min(k, s.wide.size());
      for (std::size_t i = 0; i < n; ++i) {
        dist[i] = s.wide[i].d;
        labels[i] = label_of(s.wide[i].id);
      }
    } else {
      if (has_deleted_.load()) search0<true, false>(q, ep, pool_ef, s, *vl.list, nd);
      else search0<false, false>(q, ep, pool_ef, s, *vl.list, nd);
      std::size_t n = std::min(k, s.pool.size());
      for (std::size_t i = 0; i < n; ++i) {
        dist[i] = s.pool[i].d;
        labels[i] = label_of(s.pool.id(i));
      }
    }
    n_dist_.fetch_add(nd, std::memory_order_relaxed);
  }

  // Copy the vector stored under `label` into out; false when unknown.
  bool get_vector(label_t label, float* out) const {
    std::lock_guard<std::mutex> g(labels_mu_);
    auto it = labels_.find(label);
    if (it == labels_.end()) return false;
    std::memcpy(out, vec(it->second), p_.dim * sizeof(float));
    return true;
  }

  std::vector<label_t> labels() const {
    std::lock_guard<std::mutex> g(labels_mu_);
    std::vector<label_t> out;
    out.reserve(labels_.size());
    for (const auto& kv : labels_) out.push_back(kv.first);
    std::sort(out.begin(), out.end());
    return out;
  }

  // ------------------------------------------------------------------------- persistence
  void save(const std::string& path) const {
    std::unique_lock<std::shared_mutex> g(struct_mu_);
    FileHeader h = make_header();
    std::vector<uint32_t> upper = flat_upper();
    h.upper_words = upper.size();
    std::size_t n = count_.load();
    uint64_t sum = checksum64(&h, sizeof h, 0x6c6f6f6b616c696bULL);
    sum = checksum64(data0_, n * rec_, sum);
    sum = checksum64(levels_.data(), n * sizeof(int32_t), sum);
    sum = checksum64(upper.data(), upper.size() * sizeof(uint32_t), sum);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot open " + path + " for writing");
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
    f.write(data0_, static_cast<std::streamsize>(n * rec_));
    f.write(reinterpret_cast<const char*>(levels_.data()), static_cast<std::streamsize>(n * sizeof(int32_t)));
    f.write(reinterpret_cast<const char*>(upper.data()), static_cast<std::streamsize>(upper.size() * 4));
    f.write(reinterpret_cast<const char*>(&sum), sizeof sum);
    f.flush();
    if (!f) throw std::runtime_error("error while writing " + path);
  }

  static std::unique_ptr<Index> load(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw std::runtime_error("cannot open " + path);
    const uint64_t fsize = static_cast<uint64_t>(f.tellg());
    f.seekg(0);
    FileHeader h;
    if (fsize < sizeof h + 8) throw FormatError(path + ": too short to be an HNSW index (truncated?)");
    f.read(reinterpret_cast<char*>(&h), sizeof h);
    if (std::memcmp(h.magic, kMagic, 8) != 0) throw FormatError(path + ": not a lookalike HNSW index (bad magic)");
    if (h.version != kVersion)
      throw FormatError(path + ": unsupported HNSW file version " + std::to_string(h.version));
    if (h.space > 1 || h.dim == 0 || h.dim > 65536 || h.M < 2 || h.M > kMaxM || h.M0 != 2 * h.M ||
        h.ef < 1 || h.ef_construction < 1 || h.count > h.capacity || h.capacity >= kExpanded ||
        h.max_level < -1 || h.max_level > static_cast<int32_t>(kMaxLevel) ||
        (h.entry != kNone && h.entry >= h.count) || (h.entry == kNone) != (h.count == 0) ||
        h.upper_words > (uint64_t(1) << 40))
      throw FormatError(path + ": corrupted header");
    Params p;
    p.dim = h.dim; p.space = static_cast<Space>(h.space); p.M = h.M; p.ef_construction = h.ef_construction;
    p.ef = h.ef; p.seed = h.seed;
    std::unique_ptr<Index> ix(new Index(p, 16));
    if (ix->rec_ != h.record_bytes) throw FormatError(path + ": corrupted header (record size)");
    const uint64_t expect = sizeof h + h.count * h.record_bytes + h.count * 4 + h.upper_words * 4 + 8;
    if (fsize != expect)
      throw FormatError(path + ": file has " + std::to_string(fsize) + " bytes, expected " + std::to_string(expect) +
                        (fsize < expect ? " (truncated)" : " (trailing data)"));
    ix->resize(std::max<uint64_t>(h.capacity, 16));
    const std::size_t n = h.count;
    std::vector<uint32_t> upper(h.upper_words);
    uint64_t stored = 0;
    f.read(ix->data0_, static_cast<std::streamsize>(n * ix->rec_));
    f.read(reinterpret_cast<char*>(ix->levels_.data()), static_cast<std::streamsize>(n * 4));
    f.read(reinterpret_cast<char*>(upper.data()), static_cast<std::streamsize>(upper.size() * 4));
    f.read(reinterpret_cast<char*>(&stored), 8);
    if (!f) throw FormatError(path + ": read error (truncated?)");
    uint64_t sum = checksum64(&h, sizeof h, 0x6c6f6f6b616c696bULL);
    sum = checksum64(ix->data0_, n * ix->rec_, sum);
    sum = checksum64(ix->levels_.data(), n * 4, sum);
    sum = checksum64(upper.data(), upper.size() * 4, sum);
    if (sum != stored) throw FormatError(path + ": checksum mismatch (the file is corrupted)");
    ix->restore(h, upper, path);
    return ix;
  }

 private:
  struct FileHeader {
    char magic[8];
    uint32_t version, space, dim, M, M0, ef_construction, ef, entry;
    int32_t max_level;
    uint32_t reserved;
    uint64_t count, capacity, record_bytes, seed, upper_words;
  };
  static_assert(sizeof(FileHeader) == 88, "file header layout");

  // ------------------------------------------------------------------------- layout helpers
  void layout() {
    off_hdr_ = p_.dim * sizeof(float);
    off_links_ = off_hdr_ + 4;
    off_label_ = (off_links_ + M0_ * 4 + 7) & ~std::size_t(7);
    rec_ = (off_label_ + 8 + 63) & ~std::size_t(63);
    upper_stride_ = p_.M + 1;
  }
  char* rec(node_t i) const { return data0_ + static_cast<std::size_t>(i) * rec_; }
  const float* vec(node_t i) const { return reinterpret_cast<const float*>(rec(i)); }
  uint32_t& header(node_t i) const { return *reinterpret_cast<uint32_t*>(rec(i) + off_hdr_); }
  uint32_t* links0(node_t i) const { return reinterpret_cast<uint32_t*>(rec(i) + off_links_); }
  label_t label_of(node_t i) const { label_t l; std::memcpy(&l, rec(i) + off_label_, 8); return l; }
  bool is_deleted(node_t i) const { return header(i) & kDeletedFlag; }
  // links of node i at level lev: [count, ids...]
  uint32_t* links(node_t i, int lev) const {
    if (lev == 0) return reinterpret_cast<uint32_t*>(rec(i) + off_hdr_);
    return const_cast<uint32_t*>(upper_[i].data()) + (lev - 1) * upper_stride_;
  }
  static uint32_t count_of(const uint32_t* ll) { return ll[0] & 0xFFFFu; }
  static void set_count(uint32_t* ll, uint32_t c) { ll[0] = (ll[0] & ~0xFFFFu) | c; }
  float dist(const float* a, const float* b) const { return dist_(a, b, p_.dim); }

  int random_level() {
    std::lock_guard<std::mutex> g(rng_mu_);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double r = -std::log(std::max(u(rng_), 1e-300)) * level_mult_;
    return static_cast<int>(std::min<double>(r, kMaxLevel));
  }

  // Greedy walk on levels top..(bottom+1): the node nearest q at level `bottom + 1`.
  node_t greedy_descend(const float* q, node_t ep, int top, int bottom, uint64_t& nd, bool lock,
                        node_t self = kNone) const {
    float best = dist(q, vec(ep));
    ++nd;
    for (int lev = top; lev > bottom; --lev) {
      bool moved = true;
      while (moved) {
        moved = false;
        std::unique_lock<std::mutex> g;
        if (lock) g = std::unique_lock<std::mutex>(locks_[ep]);
        const uint32_t* ll = links(ep, lev);
        uint32_t c = count_of(ll);
        for (uint32_t j = 1; j <= c; ++j) prefetch(vec(ll[j]));
        for (uint32_t j = 1; j <= c; ++j) {
          node_t cand = ll[j];
          if (cand == self) continue;
          float d = dist(q, vec(cand));
          ++nd;
          if (d < best) { best = d; ep = cand; moved = true; }
        }
      }
    }
    return ep;
  }

  // Mark the not-yet-visited ids of links ll[1..c] visited, copy them into `gather` and prefetch the
  // first two cache lines of their vectors; returns how many there were.
  uint32_t gather_unvisited(const uint32_t* ll, uint32_t c, uint16_t* marks, uint16_t tag,
                            uint32_t* gather) const {
    for (uint32_t j = 1; j <= c; ++j) prefetch(marks + ll[j]);
    uint32_t m = 0;
    for (uint32_t j = 1; j <= c; ++j) {
      node_t nb = ll[j];
      if (marks[nb] == tag) continue;
      marks[nb] = tag;
      gather[m++] = nb;
      const char* pv = reinterpret_cast<const char*>(vec(nb));
      prefetch(pv);
      prefetch(pv + 64);
    }
    return m;
  }
  // The rest of a 128-d vector (lines 3 and 4), fetched one neighbour ahead of its distance.
  void prefetch_tail(node_t i) const {
    const char* pv = reinterpret_cast<const char*>(vec(i));
    prefetch(pv + 128);
    prefetch(pv + 192);
  }

  // Beam search on level 0 (or `lev` during construction) into s.pool (live nodes only).
  template <bool kDel, bool kBuild>
  void search0(const float* q, node_t ep, std::size_t ef, SearchScratch& s, VisitedList& vl, uint64_t& nd,
               int lev = 0, node_t self = kNone) const {
    CandPool& pool = s.pool;
    pool.reset(ef);
    auto& dheap = s.deleted_heap;
    dheap.clear();
    auto cmp = [](const Cand& a, const Cand& b) { return a.d > b.d; };
    uint16_t* marks = vl.marks.data();
    const uint16_t tag = vl.tag;
    if (self != kNone) marks[self] = tag;  // a slot being relinked never finds itself
    marks[ep] = tag;
    {
      float d = dist(q, vec(ep));
      ++nd;
      if (kDel && is_deleted(ep)) { dheap.push_back({d, ep}); }
      else pool.insert(d, ep);
    }
    s.gather.resize(std::max<std::size_t>(M0_, p_.M) + 1);
    uint32_t* gather = s.gather.data();
    uint32_t local[2 * kMaxM + 1];
    while (true) {
      node_t cur;
      long pi = pool.pop_next();
      if (kDel && !dheap.empty() && (pi < 0 || dheap.front().d < pool[pi].d)) {
        if (pi >= 0) const_cast<Cand&>(pool[pi]).id &= ~kExpanded;  // put it back
        Cand c = dheap.front();
        std::pop_heap(dheap.begin(), dheap.end(), cmp);
        dheap.pop_back();
        if (pool.full() && c.d > pool.worst()) break;
        cur = c.id;
      } else {
        if (pi < 0) break;
        cur = pool.id(static_cast<std::size_t>(pi));
      }
      const uint32_t* ll;
      uint32_t c;
      if (kBuild) {  // copy the links under the node's lock: another thread may be rewriting them
        std::lock_guard<std::mutex> g(locks_[cur]);
        const uint32_t* src = links(cur, lev);
        c = count_of(src);
        std::memcpy(local + 1, src + 1, c * 4);
        ll = local;
      } else {
        ll = links(cur, 0);
        c = count_of(ll);
      }
      uint32_t m = gather_unvisited(ll, c, marks, tag, gather);
      for (uint32_t j = 0; j < m; ++j) {
        node_t nb = gather[j];
        if (j + 1 < m) prefetch_tail(gather[j + 1]);
        float d = dist(q, vec(nb));
        ++nd;
        if (pool.full() && d >= pool.worst()) continue;
        if (kDel && is_deleted(nb)) {
          dheap.push_back({d, nb});
          std::push_heap(dheap.begin(), dheap.end(), cmp);
        } else {
          pool.insert(d, nb);
        }
      }
    }
  }

  // Level-0 search for very large ef (hnswlib's scheme): a min-heap of nodes to expand and a max-heap
  // of the ef best live nodes; deleted nodes are expanded but never kept. Result in s.wide, sorted.
  template <bool kDel>
  void search_wide(const float* q, node_t ep, std::size_t ef, SearchScratch& s, VisitedList& vl,
                   uint64_t& nd) const {
    auto nearer = [](const Cand& a, const Cand& b) { return a.d < b.d; };   // max-heap on d
    auto farther = [](const Cand& a, const Cand& b) { return a.d > b.d; };  // min-heap on d
    std::vector<Cand>& top = s.wide;
    std::vector<Cand>& todo = s.deleted_heap;
    top.clear();
    todo.clear();
    uint16_t* marks = vl.marks.data();
    const uint16_t tag = vl.tag;
    marks[ep] = tag;
    float d0 = dist(q, vec(ep));
    ++nd;
    todo.push_back({d0, ep});
    if (!(kDel && is_deleted(ep))) top.push_back({d0, ep});
    float bound = top.empty() ? std::numeric_limits<float>::infinity() : d0;
    s.gather.resize(std::max<std::size_t>(M0_, p_.M) + 1);
    uint32_t* gather = s.gather.data();
    while (!todo.empty()) {
      Cand c = todo.front();
      if (c.d > bound && top.size() >= ef) break;
      std::pop_heap(todo.begin(), todo.end(), farther);
      todo.pop_back();
      const uint32_t* ll = links(c.id, 0);
      uint32_t m = gather_unvisited(ll, count_of(ll), marks, tag, gather);
      for (uint32_t j = 0; j < m; ++j) {
        node_t nb = gather[j];
        if (j + 1 < m) prefetch_tail(gather[j + 1]);
        float d = dist(q, vec(nb));
        ++nd;
        if (top.size() >= ef && d >= bound) continue;
        todo.push_back({d, nb});
        std::push_heap(todo.begin(), todo.end(), farther);
        if (kDel && is_deleted(nb)) continue;
        top.push_back({d, nb});
        std::push_heap(top.begin(), top.end(), nearer);
        if (top.size() > ef) {
          std::pop_heap(top.begin(), top.end(), nearer);
          top.pop_back();
        }
        bound = top.size() >= ef ? top.front().d : std::numeric_limits<float>::infinity();
      }
    }
    std::sort_heap(top.begin(), top.end(), nearer);
  }

  // The heuristic of the paper: keep a candidate only if it is nearer to the base than to every
  // neighbour already kept. `cands` is sorted nearest first; result written back into it.
  void select_neighbours(std::vector<Cand>& cands, std::size_t m) const {
    if (cands.size() <= m) return;
    std::vector<Cand> kept;
    kept.reserve(m);
    for (const Cand& c : cands) {
      if (kept.size() >= m) break;
      bool good = true;
      const float* vc = vec(c.id);
      for (const Cand& r : kept) {
        if (dist(vc, vec(r.id)) < c.d) { good = false; break; }
      }
      if (good) kept.push_back(c);
    }
    cands.swap(kept);
  }

  // Link new node `id` to its selected neighbours at `lev` and them back to it; returns the nearest.
  node_t connect(node_t id, std::vector<Cand>& cands, int lev) {
    const std::size_t mmax = lev == 0 ? M0_ : p_.M;
    select_neighbours(cands, p_.M);
    std::vector<Cand> tmp;
    {
      // Other threads may already have linked their new nodes to `id` at this level (they found it
      // through a level above, where it is linked already). Keep those back-links: dropping them
      // would leave such a node with no way in, unreachable by every search.
      std::lock_guard<std::mutex> g(locks_[id]);
      uint32_t* ll = links(id, lev);
      uint32_t cnt = count_of(ll);
      tmp.assign(cands.begin(), cands.end());
      const float* vi = vec(id);
      for (uint32_t j = 1; j <= cnt; ++j) {
        node_t o = ll[j];
        bool dup = false;
        for (const Cand& c : cands) dup |= c.id == o;
        if (!dup) tmp.push_back({dist(vi, vec(o)), o});
      }
      if (tmp.size() > cands.size()) {
        std::sort(tmp.begin(), tmp.end(), [](const Cand& a, const Cand& b) { return a.d < b.d; });
        select_neighbours(tmp, mmax);
      }
      set_count(ll, static_cast<uint32_t>(tmp.size()));
      for (std::size_t j = 0; j < tmp.size(); ++j) ll[j + 1] = tmp[j].id;
    }
    for (const Cand& c : cands) {
      node_t nb = c.id;
      std::lock_guard<std::mutex> g(locks_[nb]);
      uint32_t* ll = links(nb, lev);
      uint32_t cnt = count_of(ll);
      bool present = false;
      for (uint32_t j = 1; j <= cnt; ++j) present |= ll[j] == id;
      if (present) continue;
      if (cnt < mmax) {
        ll[cnt + 1] = id;
        set_count(ll, cnt + 1);
        continue;
      }
      tmp.clear();
      const float* vn = vec(nb);
      tmp.push_back({c.d, id});
      for (uint32_t j = 1; j <= cnt; ++j) tmp.push_back({dist(vn, vec(ll[j])), ll[j]});
      std::sort(tmp.begin(), tmp.end(), [](const Cand& a, const Cand& b) { return a.d < b.d; });
      select_neighbours(tmp, mmax);
      set_count(ll, static_cast<uint32_t>(tmp.size()));
      for (std::size_t j = 0; j < tmp.size(); ++j) ll[j + 1] = tmp[j].id;
    }
    return cands.empty() ? id : cands.front().id;
  }

  void collect(std::vector<Cand>& out, const SearchScratch& s) const {
    out.clear();
    for (std::size_t i = 0; i < s.pool.size(); ++i) out.push_back({s.pool[i].d, s.pool.id(i)});
  }

  // Link node `id` (vector already written, level set) into levels min(level, max)..0.
  void link_in(node_t id, int level, const float* v, bool excl_self) {
    uint64_t nd = 0;
    std::unique_lock<std::mutex> top_lock(entry_mu_);
    int maxl = max_level_;
    node_t ep = entry_.load();
    if (level <= maxl) top_lock.unlock();
    if (ep == kNone) {  // first node
      entry_.store(id);
      max_level_ = level;
      return;
    }
    if (level < maxl) ep = greedy_descend(v, ep, maxl, level, nd, true, excl_self ? id : kNone);
    SearchScratch& s = scratch();
    std::vector<Cand> cands;
    VisitedLease vl(*pool_);
    // Deleted nodes stay in the graph as waypoints, so new nodes may link to them too.
    for (int lev = std::min(level, maxl); lev >= 0; --lev) {
      if (lev != std::min(level, maxl)) vl.list->reset();
      search0<false, true>(v, ep, ef_construction_, s, *vl.list, nd, lev, excl_self ? id : kNone);
      collect(cands, s);
      if (cands.empty()) continue;
      ep = connect(id, cands, lev);
    }
    if (level > maxl) {
      entry_.store(id);
      max_level_ = level;
    }
  }

  void insert(node_t id, const float* v, label_t label) {
    int level = random_level();
    char* r = rec(id);
    std::memcpy(r, v, p_.dim * sizeof(float));
    std::memcpy(r + off_label_, &label, 8);
    levels_[id] = level;
    if (level > 0) upper_[id].assign(static_cast<std::size_t>(level) * upper_stride_, 0);
    link_in(id, level, v, false);
  }

  // Reuse the slot of a deleted node for a new vector: clear its links and link it in anew.
  // Links that other nodes hold to this slot stay (they now lead to the new vector).
  void relink(node_t id, const float* v, label_t label) {
    // Take the old links and clear them in one step under the slot's lock, so a back-link another
    // thread adds meanwhile is either in `old` (and handed on below) or made to the new vector.
    std::vector<std::vector<uint32_t>> old(static_cast<std::size_t>(levels_[id]) + 1);
    {
      std::lock_guard<std::mutex> g(locks_[id]);
      for (int lev = levels_[id]; lev >= 0; --lev) {
        const uint32_t* ll = links(id, lev);
        old[lev].assign(ll + 1, ll + 1 + count_of(ll));
      }
      char* r = rec(id);
      std::memcpy(r, v, p_.dim * sizeof(float));
      std::memcpy(r + off_label_, &label, 8);
      header(id) = 0;  // no links, not deleted... yet excluded from its own search below
      std::fill(upper_[id].begin(), upper_[id].end(), 0u);
    }
    repair_around(id, old);
    link_in(id, levels_[id], v, true);
  }

  // Before slot `id` changes meaning, let each of its old neighbours adopt its other old neighbours
  // (heuristic selection over both lists), so paths that ran through the slot survive.
  void repair_around(node_t id, const std::vector<std::vector<uint32_t>>& old_links) {
    std::vector<Cand> tmp;
    for (int lev = static_cast<int>(old_links.size()) - 1; lev >= 0; --lev) {
      const std::size_t mmax = lev == 0 ? M0_ : p_.M;
      const std::vector<uint32_t>& old = old_links[lev];
      std::vector<uint32_t> adopted;
      for (node_t nb : old) {
        if (nb == id) continue;
        std::lock_guard<std::mutex> g(locks_[nb]);
        uint32_t* ll = links(nb, lev);
        uint32_t cnt = count_of(ll);
        const float* vn = vec(nb);
        tmp.clear();
        auto consider = [&](node_t c) {
          if (c == id || c == nb) return;
          for (const Cand& t : tmp) if (t.id == c) return;
          tmp.push_back({dist(vn, vec(c)), c});
        };
        for (uint32_t j = 1; j <= cnt; ++j) consider(ll[j]);
        for (node_t c : old) consider(c);
        std::sort(tmp.begin(), tmp.end(), [](const Cand& a, const Cand& b) { return a.d < b.d; });
        select_neighbours(tmp, mmax);
        set_count(ll, static_cast<uint32_t>(tmp.size()));
        for (std::size_t j = 0; j < tmp.size(); ++j) {
          ll[j + 1] = tmp[j].id;
          adopted.push_back(tmp[j].id);
        }
      }
      // An old neighbour nobody adopted may have had its only way in through this slot: keep it
      // linked from the slot itself (now holding the new vector) so it stays reachable.
      std::lock_guard<std::mutex> g(locks_[id]);
      uint32_t* own = links(id, lev);
      for (node_t c : old) {
        if (c == id || count_of(own) >= mmax) continue;
        if (std::find(adopted.begin(), adopted.end(), c) != adopted.end()) continue;
        uint32_t cnt = count_of(own);
        bool present = false;
        for (uint32_t j = 1; j <= cnt; ++j) present |= own[j] == c;
        if (present) continue;
        own[cnt + 1] = c;
        set_count(own, cnt + 1);
      }
    }
  }

  FileHeader make_header() const {
    FileHeader h;
    std::memset(&h, 0, sizeof h);
    std::memcpy(h.magic, kMagic, 8);
    h.version = kVersion;
    h.space = static_cast<uint32_t>(p_.space);
    h.dim = static_cast<uint32_t>(p_.dim);
    h.M = static_cast<uint32_t>(p_.M);
    h.M0 = static_cast<uint32_t>(M0_);
    h.ef_construction = static_cast<uint32_t>(p_.ef_construction);
    h.ef = static_cast<uint32_t>(p_.ef);
    h.entry = entry_.load();
    h.max_level = max_level_;
    h.count = count_.load();
    h.capacity = capacity_;
    h.record_bytes = rec_;
    h.seed = p_.seed;
    return h;
  }

  std::vector<uint32_t> flat_upper() const {
    std::vector<uint32_t> out;
    std::size_t n = count_.load();
    for (std::size_t i = 0; i < n; ++i) out.insert(out.end(), upper_[i].begin(), upper_[i].end());
    return out;
  }

  // Rebuild the in-memory state from validated file sections; any inconsistency is a FormatError.
  void restore(const FileHeader& h, const std::vector<uint32_t>& upper, const std::string& path) {
    const std::size_t n = h.count;
    auto bad = [&](const std::string& why) { return FormatError(path + ": corrupted index (" + why + ")"); };
    std::size_t pos = 0;
    int maxl = -1;
    for (std::size_t i = 0; i < n; ++i) {
      int l = levels_[i];
      if (l < 0 || l > static_cast<int>(kMaxLevel)) throw bad("node level out of range");
      maxl = std::max(maxl, l);
      std::size_t words = static_cast<std::size_t>(l) * upper_stride_;
      if (pos + words > upper.size()) throw bad("upper links");
      upper_[i].assign(upper.begin() + pos, upper.begin() + pos + words);
      pos += words;
      for (int lev = 0; lev <= l; ++lev) {
        const uint32_t* ll = links(static_cast<node_t>(i), lev);
        uint32_t c = count_of(ll);
        if (c > (lev == 0 ? M0_ : p_.M)) throw bad("link count");
        if (lev > 0 && (ll[0] >> 16) != 0) throw bad("link header");
        for (uint32_t j = 1; j <= c; ++j)
          if (ll[j] >= n || levels_[ll[j]] < lev) throw bad("link target");
      }
      if (header(static_cast<node_t>(i)) & ~(0xFFFFu | kDeletedFlag)) throw bad("node flags");
    }
    if (pos != upper.size()) throw bad("upper links size");
    if (maxl != h.max_level) throw bad("max level");
    if (n && levels_[h.entry] != maxl) throw bad("entry point level");
    count_.store(n);
    entry_.store(h.entry);
    max_level_ = h.max_level;
    labels_.clear();
    free_.clear();
    pinned_deleted_ = 0;
    for (std::size_t i = 0; i < n; ++i) {
      node_t id = static_cast<node_t>(i);
      if (is_deleted(id)) {
        has_deleted_.store(true);
        if (id == h.entry) ++pinned_deleted_; else free_.push_back(id);
      } else if (!labels_.emplace(label_of(id), id).second) {
        throw bad("duplicate label");
      }
    }
  }

  Params p_;
  std::size_t M0_ = 0, ef_construction_ = 0, upper_stride_ = 0;
  std::size_t off_hdr_ = 0, off_links_ = 0, off_label_ = 0, rec_ = 0;
  double level_mult_ = 0;
  Kernels kernels_{};
  DistFn dist_ = nullptr;

  char* data0_ = nullptr;
  std::size_t capacity_ = 0;
  std::atomic<std::size_t> count_{0};
  std::vector<int32_t> levels_;
  std::vector<std::vector<uint32_t>> upper_;
  std::unique_ptr<std::mutex[]> locks_;
  std::unique_ptr<VisitedPool> pool_;

  mutable std::shared_mutex struct_mu_;
  mutable std::mutex labels_mu_;
  std::unordered_map<label_t, node_t> labels_;
  std::vector<node_t> free_;
  std::size_t pinned_deleted_ = 0;
  std::atomic<std::size_t> unswept_{0}, repaired_{0};
  mutable std::mutex repair_mu_;
  std::atomic<bool> has_deleted_{false};

  mutable std::mutex entry_mu_;
  std::atomic<uint32_t> entry_{kNone};
  int max_level_ = -1;

  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  mutable std::atomic<uint64_t> n_dist_{0};
};

}  // namespace hnsw
}  // namespace lookalike
