package dev.rage2e.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected values computed by hand from the official SQuAD v1.1 evaluate script's definitions. */
class SquadMetricsTest {
    @Test
    void normalisationFollowsTheOfficialScript() {
        assertEquals("denver broncos", SquadMetrics.normalize("The Denver Broncos!"));
        assertEquals("apple", SquadMetrics.normalize("  an   Apple. "));
        assertEquals("theater", SquadMetrics.normalize("Theater")); // article only as a whole word
        assertEquals("1960s", SquadMetrics.normalize("the 1960's"));
        assertEquals("rocknroll", SquadMetrics.normalize("Rock-'n'-Roll")); // punctuation is deleted, not spaced
        assertEquals("café", SquadMetrics.normalize("A Café"));
        assertEquals("–war", SquadMetrics.normalize("the–war")); // \b before a non-word char: 'the' goes
        assertEquals("", SquadMetrics.normalize("a an the"));
    }

    @Test
    void exactMatchAndF1() {
        assertEquals(1.0, SquadMetrics.maxExactMatch("the Denver Broncos", List.of("Broncos", "Denver Broncos")));
        assertEquals(0.0, SquadMetrics.maxExactMatch("Denver", List.of("Denver Broncos")));
        // prediction "denver" vs gold "denver broncos": p = 1, r = 1/2, F1 = 2/3
        assertEquals(2.0 / 3, SquadMetrics.f1("Denver", "Denver Broncos"), 1e-12);
        // repeated tokens count with multiplicity: pred [x x y] vs gold [x y y]: common 2, p=r=2/3
        assertEquals(2.0 / 3, SquadMetrics.f1("x x y", "x y y"), 1e-12);
        assertEquals(0.0, SquadMetrics.f1("the", "the"), 1e-12); // both normalise to nothing: 0 in v1.1
        assertEquals(1.0, SquadMetrics.maxF1("Broncos", List.of("Denver", "the broncos")), 1e-12);
    }
}
