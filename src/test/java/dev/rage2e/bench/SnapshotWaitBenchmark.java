package dev.rage2e.bench;

import ai.djl.ndarray.NDManager;
import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.convert.ModelDirs;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.testutil.MavenJars;
import dev.rage2e.train.refresh.WeightsSnapshot;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A benchmark, not a test (skipped unless -Drag.bench=true): what the training thread spends on a
 * refresh snapshot of a real context encoder, the libtorch clone ({@link WeightsSnapshot#copyOf}) against
 * the former host copy ({@code params.toHost()}). Run:
 * {@code mvn -o -q test -Dtest=SnapshotWaitBenchmark -Drag.bench=true
 * [-Drag.bench.model=e5-small-v2 -Drag.bench.iters=30]}
 */
class SnapshotWaitBenchmark {
    @TempDir
    Path tmp;

    @Test
    void snapshotWait() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("rag.bench"), "benchmark: run with -Drag.bench=true");
        String name = System.getProperty("rag.bench.model", "e5-small-v2");
        int iters = Integer.getInteger("rag.bench.iters", 30);
        ModelCatalog.Entry e = ModelCatalog.get(name);
        Path jar = MavenJars.locate(name + ".onnx", e.groupId(), e.artifactId(), e.version());
        Path dir = tmp.resolve(name);
        ModelDirs.write(ModelCatalog.convert(e, jar), e.settings(), dir, false);
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(dir, m)) {
            enc.params.parameters().values().forEach(a -> a.setRequiresGradient(true)); // as in training
            List<Double> clone = new ArrayList<>(), host = new ArrayList<>();
            for (int i = 0; i < iters + 3; i++) {
                long t0 = System.nanoTime();
                WeightsSnapshot s = WeightsSnapshot.copyOf(enc.params);
                long t1 = System.nanoTime();
                s.close();
                long t2 = System.nanoTime();
                enc.params.toHost();
                long t3 = System.nanoTime();
                if (i >= 3) {
                    clone.add((t1 - t0) / 1e6);
                    host.add((t3 - t2) / 1e6);
                }
            }
            // what the trainer does now: take the snapshot (no copy), the refresher copies into the arena
            List<Double> take = new ArrayList<>(), into = new ArrayList<>();
            try (WeightsSnapshot.Arena arena = new WeightsSnapshot.Arena(enc.params)) {
                for (int i = 0; i < iters + 3; i++) {
                    long t0 = System.nanoTime();
                    WeightsSnapshot s = WeightsSnapshot.of(enc.params, arena);
                    long t1 = System.nanoTime();
                    s.copy();
                    long t2 = System.nanoTime();
                    s.close();
                    if (i >= 3) {
                        take.add((t1 - t0) / 1e6);
                        into.add((t2 - t1) / 1e6);
                    }
                }
            }
            System.out.printf(
                    "%s: training thread takes the snapshot in %s; the copy into the arena (refresher "
                            + "thread, during the next "
                            + "step) %s%n",
                    name, stats(take), stats(into));
            System.out.printf(
                    "%s snapshot on the training thread: libtorch clone %s; host copy (before) %s%n",
                    name, stats(clone), stats(host));
        }
    }

    static String stats(List<Double> ms) {
        List<Double> s = ms.stream().sorted().toList();
        return String.format(
                "p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)",
                s.get(s.size() / 2),
                s.get(Math.min(s.size() - 1, (int) Math.ceil(s.size() * 0.99) - 1)),
                s.get(s.size() - 1),
                s.size());
    }
}
