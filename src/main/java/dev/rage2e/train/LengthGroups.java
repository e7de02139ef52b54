package dev.rage2e.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.function.IntUnaryOperator;

/**
 * Length-grouped batches (HF Trainer's {@code group_by_length}): an epoch's shuffled order is cut into groups of
 * {@link #BATCHES_PER_GROUP} batches, each group sorted by length, cut into batches, and those batches shuffled. A
 * batch is padded to its longest member, so similar lengths waste less compute; each epoch still visits every example
 * once, and which examples share a group stays random. The trainer ends an epoch with a short batch when grouping
 * (instead of filling it from the next epoch), so batch boundaries stay where the groups put them.
 */
final class LengthGroups {
    /** HF's LengthGroupedSampler uses megabatches of 50 batches. */
    static final int BATCHES_PER_GROUP = 50;

    private LengthGroups() {}

    /** {@code shuffled} reordered; deterministic for the same input and generator state. */
    static List<Integer> group(List<Integer> shuffled, IntUnaryOperator length, int batchSize, Random r) {
        int group = batchSize * BATCHES_PER_GROUP;
        List<Integer> out = new ArrayList<>(shuffled.size());
        for (int from = 0; from < shuffled.size(); from += group) {
            List<Integer> g = new ArrayList<>(shuffled.subList(from, Math.min(shuffled.size(), from + group)));
            // longest first; ties keep the shuffled order (List.sort is stable)
            g.sort(Comparator.comparingInt(length::applyAsInt).reversed());
            List<List<Integer>> batches = new ArrayList<>();
            for (int b = 0; b < g.size(); b += batchSize) batches.add(g.subList(b, Math.min(g.size(), b + batchSize)));
            // a short batch (only the epoch's last group has one) stays last, so every batch boundary falls on one
            List<Integer> shortBatch =
                    batches.get(batches.size() - 1).size() < batchSize ? batches.remove(batches.size() - 1) : List.of();
            Collections.shuffle(batches, r);
            batches.forEach(out::addAll);
            out.addAll(shortBatch);
        }
        return out;
    }
}
