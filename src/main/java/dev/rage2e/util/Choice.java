package dev.rage2e.util;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A closed set of values users spell by label ("end2end", "rag-token"): an enum implementing this, whose
 * {@code toString()} returns {@link #label()} so that config files, JSON and flags all use the label
 * ({@link Json#MAPPER} and the training config's YAML read and write enums by {@code toString()}; the CLI
 * registers {@link #parse} for each).
 */
public interface Choice {
    /** The label users write; by default the constant's name in lower case. */
    default String label() {
        return ((Enum<?>) this).name().toLowerCase(Locale.ROOT);
    }

    /** The constant labelled {@code s}; otherwise an error naming {@code what} and the labels allowed. */
    static <E extends Enum<E> & Choice> E parse(Class<E> type, String what, String s) {
        for (E e : type.getEnumConstants()) if (e.label().equals(s)) return e;
        throw new IllegalArgumentException(what + " must be " + labels(type) + ", got '" + s + "'");
    }

    /** "a, b or c". */
    static String labels(Class<?> type) {
        List<String> out = new ArrayList<>();
        for (Object e : type.getEnumConstants()) out.add(e instanceof Choice c ? c.label() : e.toString());
        if (out.size() == 1) return out.get(0);
        return String.join(", ", out.subList(0, out.size() - 1)) + " or " + out.get(out.size() - 1);
    }
}
