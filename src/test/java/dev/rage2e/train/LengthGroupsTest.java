package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LengthGroupsTest {
    static final int N = 2_345, BATCH = 16;

    /** Lengths like SQuAD paragraphs in characters: 300-1,500, unrelated to the index. */
    static final int[] LENGTH = new Random(5).ints(N, 300, 1_500).toArray();

    static List<Integer> shuffled(long seed) {
        List<Integer> o = new ArrayList<>();
        for (int i = 0; i < N; i++) o.add(i);
        Collections.shuffle(o, new Random(seed));
        return o;
    }

    /** What padding costs: the sum over batches of batch size x the longest member. */
    static long padded(List<Integer> order) {
        long total = 0;
        for (int b = 0; b < order.size(); b += BATCH) {
            int max = 0, end = Math.min(order.size(), b + BATCH);
            for (int i = b; i < end; i++) max = Math.max(max, LENGTH[order.get(i)]);
            total += (long) max * (end - b);
        }
        return total;
    }

    @Test
    void aPermutationWithLessPaddingAndTheShortBatchLast() {
        List<Integer> plain = shuffled(1);
        List<Integer> grouped = LengthGroups.group(plain, i -> LENGTH[i], BATCH, new Random(2));
        assertEquals(N, grouped.size());
        assertEquals(new HashSet<>(plain), new HashSet<>(grouped), "every example once per epoch");
        long real = 0;
        for (int l : LENGTH) real += l;
        double wastePlain = (double) padded(plain) / real - 1, wasteGrouped = (double) padded(grouped) / real - 1;
        assertTrue(wasteGrouped < wastePlain / 5, "padding waste " + wasteGrouped + " vs " + wastePlain + " ungrouped");
        // N = 146 x 16 + 9: the 9 left over are the epoch's last 9, and come from the last group
        int lastGroupStart = N / (BATCH * LengthGroups.BATCHES_PER_GROUP) * BATCH * LengthGroups.BATCHES_PER_GROUP;
        assertEquals(
                new HashSet<>(plain.subList(lastGroupStart, N)),
                new HashSet<>(grouped.subList(lastGroupStart, N)),
                "groups stay in place");
        List<Integer> lastGroup = new ArrayList<>(plain.subList(lastGroupStart, N));
        lastGroup.sort((a, b) -> Integer.compare(LENGTH[b], LENGTH[a]));
        assertEquals(
                new HashSet<>(lastGroup.subList(lastGroup.size() - N % BATCH, lastGroup.size())),
                new HashSet<>(grouped.subList(N - N % BATCH, N)),
                "the short batch is the last group's shortest examples, at the end");
    }

    @Test
    void batchOrderIsRandomButRepeatsForTheSameSeed() {
        List<Integer> a = LengthGroups.group(shuffled(1), i -> LENGTH[i], BATCH, new Random(2));
        assertEquals(a, LengthGroups.group(shuffled(1), i -> LENGTH[i], BATCH, new Random(2)));
        assertNotEquals(a, LengthGroups.group(shuffled(1), i -> LENGTH[i], BATCH, new Random(3)));
        // batches are not in length order: the first 50 batches' longest members do not decrease monotonically
        int drops = 0, rises = 0;
        for (int b = BATCH; b < BATCH * LengthGroups.BATCHES_PER_GROUP; b += BATCH)
            if (LENGTH[a.get(b)] > LENGTH[a.get(b - BATCH)]) rises++;
            else drops++;
        assertTrue(rises > 10 && drops > 10, rises + " rises, " + drops + " drops");
    }
}
