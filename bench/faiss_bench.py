#!/usr/bin/python3
"""FAISS reference numbers for `rag bench index`, on exactly the same float32 vectors.

Measures IndexFlatIP (build = add, queries/s at k for batches) and IndexHNSWFlat with
METRIC_INNER_PRODUCT and the same M / efConstruction (build seconds, queries/s and recall@k
against the flat results for several efSearch). Prints JSON like the Java benchmark.

Queries: --queries FILE (float32 rows), or else every (count // num_queries)-th data row, which is
what `rag bench index --kb` uses. Debian packages: python3-faiss python3-numpy libopenblas0-pthread.
OPENBLAS_NUM_THREADS defaults to 1 (FAISS' flat search calls sgemm for batches of 20+ queries).
"""
import argparse
import json
import os
import time

# Before numpy/faiss load their thread pools: one BLAS thread (as specified for the comparison) and
# passive OpenMP waiting, which `./rag` also sets: spinning workers collapse when other processes
# share the 2 cores. Both can be overridden from the environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss  # noqa: E402
import numpy as np  # noqa: E402


def load_rows(path, dim):
    a = np.fromfile(path, dtype="<f4")
    if a.size % dim:
        raise SystemExit(f"{path}: {a.size} floats is not a multiple of dim {dim}")
    return a.reshape(-1, dim)


def search_all(index, queries, k, batch):
    ids = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), batch):
        _, i = index.search(queries[s:s + batch], k)
        ids[s:s + batch] = i
    return ids


def qps(index, queries, k, batch, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        search_all(index, queries, k, batch)
        best = min(best, time.perf_counter() - t0)
    return len(queries) / best


def recall(exact, approx):
    hit = sum(len(set(e) & set(a)) for e, a in zip(exact.tolist(), approx.tolist()))
    return hit / exact.size


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emb", required=True, help="embeddings.f32 (count x dim float32, little-endian)")
    p.add_argument("--dim", type=int, help="dimension (default: from meta.json next to --emb)")
    p.add_argument("--queries", help="query rows, float32")
    p.add_argument("--num-queries", type=int, default=1024)
    p.add_argument("-k", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument("--ef-search", default="20,40,100,200")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="OpenMP threads (HNSW build and search)")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()

    dim = a.dim or json.load(open(os.path.join(os.path.dirname(a.emb), "meta.json")))["dim"]
    xb = load_rows(a.emb, dim)
    if a.queries:
        xq = load_rows(a.queries, dim)
        qfrom = a.queries
    else:
        nq = min(a.num_queries, len(xb))
        stride = len(xb) // nq
        xq = np.ascontiguousarray(xb[np.arange(nq) * stride])
        qfrom = "embedding rows i*(count/num_queries)"
    faiss.omp_set_num_threads(a.threads)
    out = {"data": a.emb, "count": len(xb), "dim": dim, "queries": len(xq), "queries_from": qfrom, "k": a.k,
           "batch": a.batch, "faiss": faiss.__version__, "omp_threads": a.threads,
           "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}

    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(xb)
    out["flat"] = {"build_seconds": round(time.perf_counter() - t0, 3)}
    exact = search_all(flat, xq, a.k, a.batch)
    out["flat"]["queries_per_s"] = round(qps(flat, xq, a.k, a.batch, a.repeat), 1)

    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, a.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = a.ef_construction
    hnsw.add(xb)
    out["hnsw"] = {"m": a.m, "ef_construction": a.ef_construction, "build_seconds": round(time.perf_counter() - t0, 3), "search": []}
    for ef in [int(x) for x in a.ef_search.split(",")]:
        hnsw.hnsw.efSearch = max(ef, a.k)
        approx = search_all(hnsw, xq, a.k, a.batch)
        out["hnsw"]["search"].append({"ef_search": hnsw.hnsw.efSearch,
                                      "queries_per_s": round(qps(hnsw, xq, a.k, a.batch, a.repeat), 1),
                                      "recall_at_k": round(recall(exact, approx), 4)})
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
