package dev.rage2e.index;

import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KnowledgeBase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** Random test vectors and a KB of numbered passages to hang them on. */
final class Vectors {
    private Vectors() {}

    static float[][] gaussian(int n, int dim, long seed, boolean unit) {
        Random r = new Random(seed);
        float[][] v = new float[n][dim];
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int j = 0; j < dim; j++) {
                v[i][j] = (float) r.nextGaussian();
                norm += v[i][j] * v[i][j];
            }
            if (unit) for (int j = 0; j < dim; j++) v[i][j] /= (float) Math.sqrt(norm);
        }
        return v;
    }

    /** Exact top-k by inner product in double precision: the reference. */
    static int[] bruteForce(float[][] rows, float[] q, int k) {
        double[] s = new double[rows.length];
        Integer[] ids = new Integer[rows.length];
        for (int i = 0; i < rows.length; i++) {
            ids[i] = i;
            for (int j = 0; j < q.length; j++) s[i] += (double) rows[i][j] * q[j];
        }
        java.util.Arrays.sort(ids, (a, b) -> Double.compare(s[b], s[a]));
        int[] out = new int[Math.min(k, rows.length)];
        for (int i = 0; i < out.length; i++) out[i] = ids[i];
        return out;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    static KnowledgeBase kb(Path dir, int passages) throws IOException {
        Files.createDirectories(dir.getParent());
        Path csv = dir.getParent().resolve(dir.getFileName() + ".csv");
        StringBuilder b = new StringBuilder("title,text\n");
        for (int i = 0; i < passages; i++)
            b.append("Doc ").append(i).append(",passage number ").append(i).append('\n');
        Files.writeString(csv, b);
        KbBuilder.build(List.of(csv), dir, 100);
        return KnowledgeBase.open(dir);
    }
}
