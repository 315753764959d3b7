// pybind11 module lookalike._hnsw: a thin, checked binding of hnsw.h.
// Batched add/search release the GIL and spread rows over a small pool of threads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <exception>
#include <thread>
#include <unordered_set>

#include "hnsw.h"

namespace py = pybind11;
using lookalike::hnsw::FormatError;
using lookalike::hnsw::Index;
using lookalike::hnsw::label_t;
using lookalike::hnsw::Params;
using lookalike::hnsw::Space;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// Run fn(row) for rows 0..n-1 on `threads` threads (inline when 1); the first exception wins.
template <class Fn>
void parallel_for(std::size_t n, int threads, Fn fn) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(n, 1)));
  if (threads == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr err;
  std::mutex err_mu;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (true) {
        std::size_t i = next.fetch_add(1);
        if (i >= n) break;
        try {
          fn(i);
        } catch (...) {
          std::lock_guard<std::mutex> g(err_mu);
          if (!err) err = std::current_exception();
          next.store(n);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (err) std::rethrow_exception(err);
}

Space parse_space(const std::string& s) {
  if (s == "l2") return Space::L2;
  if (s == "ip") return Space::IP;
  throw std::invalid_argument("space must be 'l2' or 'ip', got '" + s + "'");
}

FloatArray as_matrix(const py::array& a, std::size_t dim, const char* what) {
  if (a.ndim() != 1 && a.ndim() != 2)
    throw std::invalid_argument(std::string(what) + " must be a 2-d array (n, dim)");
  FloatArray m = FloatArray::ensure(a);
  if (!m) throw std::invalid_argument(std::string(what) + " must be numeric");
  std::size_t cols = m.ndim() == 2 ? static_cast<std::size_t>(m.shape(1)) : static_cast<std::size_t>(m.shape(0));
  if (cols != dim)
    throw std::invalid_argument(std::string(what) + " have dimension " + std::to_string(cols) + ", the index has " +
                                std::to_string(dim));
  return m;
}

std::size_t rows_of(const FloatArray& m) { return m.ndim() == 2 ? static_cast<std::size_t>(m.shape(0)) : 1; }

class PyIndex {
 public:
  PyIndex(const std::string& space, std::size_t dim, std::size_t capacity, std::size_t M,
          std::size_t ef_construction, std::size_t ef, uint64_t seed) {
    Params p;
    p.space = parse_space(space);
    p.dim = dim; p.M = M; p.ef_construction = ef_construction; p.ef = ef; p.seed = seed;
    ix_.reset(new Index(p, capacity));
  }
  explicit PyIndex(std::unique_ptr<Index> ix) : ix_(std::move(ix)) {}

  void add(const py::array& data, const py::array& labels, int threads) {
    FloatArray m = as_matrix(data, ix_->dim(), "vectors");
    LabelArray l = LabelArray::ensure(labels);
    if (!l || l.ndim() != 1) throw std::invalid_argument("labels must be a 1-d integer array");
    const std::size_t n = rows_of(m);
    if (static_cast<std::size_t>(l.shape(0)) != n)
      throw std::invalid_argument("got " + std::to_string(l.shape(0)) + " labels for " + std::to_string(n) + " vectors");
    const float* pv = m.data();
    const int64_t* pl = l.data();
    const std::size_t dim = ix_->dim();
    {
      std::unordered_set<int64_t> seen;
      for (std::size_t i = 0; i < n; ++i) {
        if (pl[i] < 0) throw std::invalid_argument("labels must be non-negative");
        if (!seen.insert(pl[i]).second || ix_->contains(pl[i]))
          throw std::invalid_argument("label " + std::to_string(pl[i]) + " is given twice or already in the index");
      }
    }
    py::gil_scoped_release nogil;
    std::size_t need = ix_->slots() + n;  // upper bound (deleted slots may be reused)
    if (need > ix_->capacity()) ix_->resize(std::max(need, ix_->capacity() + ix_->capacity() / 2));
    std::size_t start = 0;
    if (ix_->size() == 0 && n > 0) {  // the first node alone: it becomes the entry point
      ix_->add(pv, pl[0]);
      start = 1;
    }
    // Slots of deleted nodes are refilled one at a time: rewiring a reused slot while other threads
    // link through it could strand a node (a rare race seen in randomised churn tests).
    for (std::size_t reuse = std::min(n - start, ix_->reusable_slots()); reuse > 0; --reuse, ++start)
      ix_->add(pv + start * dim, pl[start]);
    parallel_for(n - start, threads, [&](std::size_t i) { ix_->add(pv + (start + i) * dim, pl[start + i]); });
    // Amortised: a sweep costs O(slots) (about 0.1 s at 200k), so it runs once the nodes added since
    // the last one reach 1/16 of the index; full-effort searches and save() never skip it.
    if (ix_->unswept() * 16 >= ix_->slots()) ix_->repair_reachability();
  }

  py::tuple search(const py::array& queries, std::size_t k, py::object ef_obj, int threads) {
    if (k < 1) throw std::invalid_argument("k must be at least 1");
    FloatArray q = as_matrix(queries, ix_->dim(), "queries");
    const std::size_t nq = rows_of(q);
    const std::size_t ef = ef_obj.is_none() ? ix_->ef() : ef_obj.cast<std::size_t>();
    if (ef < 1) throw std::invalid_argument("ef must be at least 1");
    py::array_t<float> dist({nq, k});
    py::array_t<int64_t> lab({nq, k});
    float* pd = dist.mutable_data();
    int64_t* pl = lab.mutable_data();
    const float* pq = q.data();
    const std::size_t dim = ix_->dim();
    {
      py::gil_scoped_release nogil;
      if (ix_->full_effort(k, ef) && ix_->unswept() > 0) ix_->repair_reachability();
      parallel_for(nq, nq < 8 ? 1 : threads,
                   [&](std::size_t i) { ix_->search(pq + i * dim, k, ef, pd + i * k, pl + i * k); });
    }
    return py::make_tuple(dist, lab);
  }

  std::size_t remove(const py::array& labels) {
    LabelArray l = LabelArray::ensure(labels);
    if (!l) throw std::invalid_argument("labels must be integers");
    std::size_t n = static_cast<std::size_t>(l.size()), gone = 0;
    const int64_t* pl = l.data();
    for (std::size_t i = 0; i < n; ++i) gone += ix_->remove(pl[i]) ? 1 : 0;
    return gone;
  }

  py::array_t<float> get_vectors(const py::array& labels) {
    LabelArray l = LabelArray::ensure(labels);
    if (!l) throw std::invalid_argument("labels must be integers");
    std::size_t n = static_cast<std::size_t>(l.size());
    py::array_t<float> out({n, ix_->dim()});
    for (std::size_t i = 0; i < n; ++i)
      if (!ix_->get_vector(l.data()[i], out.mutable_data() + i * ix_->dim()))
        throw py::key_error("label " + std::to_string(l.data()[i]) + " is not in the index");
    return out;
  }

  py::array_t<int64_t> labels() const {
    std::vector<label_t> v = ix_->labels();
    py::array_t<int64_t> out(v.size());
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
  }

  void save(const std::string& path) {
    py::gil_scoped_release nogil;
    if (ix_->unswept() > 0) ix_->repair_reachability();
    ix_->save(path);
  }

  static PyIndex load(const std::string& path) {
    std::unique_ptr<Index> ix;
    {
      py::gil_scoped_release nogil;
      ix = Index::load(path);
      ix->repair_reachability();  // files written before the sweep existed may hold stranded nodes
    }
    return PyIndex(std::move(ix));
  }

  Index& core() { return *ix_; }

 private:
  std::unique_ptr<Index> ix_;
};

}  // namespace

PYBIND11_MODULE(_hnsw, m) {
  m.doc() = "lookalike's HNSW index core (C++17). Distances: squared L2 ('l2') or 1 - dot ('ip').";
  py::register_exception<FormatError>(m, "FormatError", PyExc_ValueError);
  m.def("simd", [] { return std::string(lookalike::hnsw::select_kernels(std::getenv("LOOKALIKE_HNSW_ISA")).isa); },
        "Instruction set of the distance kernels chosen for this processor.");

  py::class_<PyIndex>(m, "Index")
      .def(py::init<const std::string&, std::size_t, std::size_t, std::size_t, std::size_t, std::size_t, uint64_t>(),
           py::arg("space"), py::arg("dim"), py::arg("capacity") = 1024, py::arg("M") = 16,
           py::arg("ef_construction") = 200, py::arg("ef") = 64, py::arg("seed") = 100)
      .def("add", &PyIndex::add, py::arg("vectors"), py::arg("labels"), py::arg("num_threads") = -1,
           "Insert float32 vectors (n, dim) under int64 labels (n,). Grows the capacity as needed.")
      .def("search", &PyIndex::search, py::arg("queries"), py::arg("k"), py::arg("ef") = py::none(),
           py::arg("num_threads") = -1,
           "k nearest neighbours of each query: (distances (nq, k) float32, labels (nq, k) int64); inf / -1 pad.")
      .def("remove", &PyIndex::remove, py::arg("labels"), "Delete by label; returns how many existed.")
      .def("get_vectors", &PyIndex::get_vectors, py::arg("labels"))
      .def("labels", &PyIndex::labels, "Sorted labels of the live vectors.")
      .def("resize", [](PyIndex& s, std::size_t cap) { py::gil_scoped_release g; s.core().resize(cap); },
           py::arg("capacity"))
      .def("save", &PyIndex::save, py::arg("path"))
      .def_static("load", &PyIndex::load, py::arg("path"))
      .def("__len__", [](PyIndex& s) { return s.core().size(); })
      .def("__contains__", [](PyIndex& s, int64_t l) { return s.core().contains(l); })
      .def("reset_stats", [](PyIndex& s) { s.core().reset_stats(); })
      .def("repair_reachability", [](PyIndex& s) { py::gil_scoped_release g; return s.core().repair_reachability(); },
           "Link every live node that level 0 cannot reach from the entry point; returns how many.")
      .def_property_readonly("unswept", [](PyIndex& s) { return s.core().unswept(); },
                             "Nodes added since the last reachability sweep.")
      .def_property_readonly("repaired", [](PyIndex& s) { return s.core().repaired(); },
                             "Nodes reachability sweeps have linked back in so far.")
      .def_property_readonly("distance_computations", [](PyIndex& s) { return s.core().distance_computations(); },
                             "Distances computed by searches since the last reset_stats().")
      .def_property_readonly("dim", [](PyIndex& s) { return s.core().dim(); })
      .def_property_readonly("space", [](PyIndex& s) { return s.core().space() == Space::L2 ? "l2" : "ip"; })
      .def_property_readonly("M", [](PyIndex& s) { return s.core().M(); })
      .def_property_readonly("ef_construction", [](PyIndex& s) { return s.core().ef_construction(); })
      .def_property("ef", [](PyIndex& s) { return s.core().ef(); },
                    [](PyIndex& s, std::size_t ef) { s.core().set_ef(ef); })
      .def_property_readonly("capacity", [](PyIndex& s) { return s.core().capacity(); })
      .def_property_readonly("slots", [](PyIndex& s) { return s.core().slots(); })
      .def_property_readonly("deleted", [](PyIndex& s) { return s.core().deleted_count(); })
      .def_property_readonly("max_level", [](PyIndex& s) { return s.core().max_level(); })
      .def_property_readonly("memory_bytes", [](PyIndex& s) { return s.core().memory_bytes(); })
      .def_property_readonly("simd", [](PyIndex& s) { return std::string(s.core().isa()); });
}
