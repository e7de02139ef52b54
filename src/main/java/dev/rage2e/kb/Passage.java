package dev.rage2e.kb;

/** A knowledge-base passage: at most N whitespace-separated words of one document, with its title. */
public record Passage(int id, String title, String text) {
    /** What a passage encoder reads (before its passage prefix): "{title} {text}", as DPR/RAG do. */
    public String encoderInput() {
        return title.isEmpty() ? text : title + " " + text;
    }
}
