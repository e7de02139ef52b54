package dev.rage2e.kb;

/** One input document before chunking: a title and its text, with where it came from (for messages). */
public record Document(String title, String text, String source, long line) {}
