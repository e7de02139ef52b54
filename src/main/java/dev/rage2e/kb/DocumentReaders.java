package dev.rage2e.kb;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Reads the documents of one input file in its format, in file order. */
public final class DocumentReaders {
    private DocumentReaders() {}

    public static void read(Path file, InputFormat format, Consumer<Document> sink) throws IOException {
        switch (format) {
            case TSV -> DelimitedReader.read(file, '\t', sink);
            case CSV -> DelimitedReader.read(file, ',', sink);
            case JSONL -> JsonLinesReader.read(file, sink);
            case SQUAD -> SquadContextsReader.read(file, sink);
        }
    }
}
