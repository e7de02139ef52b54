package dev.rage2e.util;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * What a path names, as a short content hash: the same model, data file or knowledge base gets the same fingerprint
 * in any folder or checkout, and a changed one another. Used where a cache must not depend on where things lie.
 */
public final class Fingerprint {
    /** Hex digits a fingerprint keeps: 96 bits, plenty to tell files apart. */
    private static final int SHORT_HEX = 24;

    private Fingerprint() {}

    /**
     * A file: its bytes. A knowledge base (a folder whose {@code manifest.json} has {@code passages_sha256}): its
     * passages (embeddings versions come and go with training). Any other folder: the names and bytes of its files,
     * subfolders included, in name order. A missing path: "missing:" and its file name.
     */
    public static String of(Path p) throws IOException {
        if (Files.isRegularFile(p)) return sha256(p).substring(0, SHORT_HEX);
        if (!Files.isDirectory(p)) return "missing:" + p.getFileName();
        Path manifest = p.resolve("manifest.json");
        if (Files.isRegularFile(manifest)) {
            JsonNode m = Json.read(manifest);
            if (m.hasNonNull("passages_sha256"))
                return "kb:" + m.get("passages_sha256").asText();
        }
        MessageDigest d = sha256();
        List<Path> files;
        try (var walk = Files.walk(p)) {
            files = walk.filter(Files::isRegularFile)
                    .filter(f -> !AtomicFiles.isTemp(f.getFileName().toString()))
                    .sorted()
                    .toList();
        }
        for (Path f : files) {
            d.update(p.relativize(f).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            d.update((byte) 0);
            d.update(sha256(f).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        return HexFormat.of().formatHex(d.digest()).substring(0, SHORT_HEX);
    }

    /** The SHA-256 of a file's bytes, as 64 lower-case hex digits (what KB manifests record for their sources). */
    public static String sha256(Path file) throws IOException {
        MessageDigest d = sha256();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), d)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(d.digest());
    }

    /** The SHA-256 of a string's UTF-8 bytes, as 64 lower-case hex digits. */
    public static String sha256Hex(String s) {
        return HexFormat.of().formatHex(sha256().digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** A fresh SHA-256 digest (the JDK always has one; its absence is a broken JVM, not an input error). */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
