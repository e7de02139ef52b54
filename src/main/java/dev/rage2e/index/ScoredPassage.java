package dev.rage2e.index;

import dev.rage2e.kb.Passage;

/** A retrieved passage and its inner product with the query. */
public record ScoredPassage(Passage passage, float score) {}
