package dev.rage2e.kb;

import dev.rage2e.util.Fingerprint;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;

/**
 * Passages in two files: {@code passages.bin} holds one record per passage (int32 LE title length in
 * bytes, UTF-8 title, UTF-8 text) back to back, and {@code passages.off} the int64 LE start offset of
 * every record plus the end offset. Both are memory-mapped for random access by id.
 */
public final class PassageStore {
    public static final String DATA = "passages.bin";
    public static final String OFFSETS = "passages.off";

    private final MappedFile data;
    private final MappedFile offsets;
    private final int count;

    private PassageStore(MappedFile data, MappedFile offsets) {
        this.data = data;
        this.offsets = offsets;
        long n = offsets.size() / 8 - 1;
        if (n < 0 || n > Integer.MAX_VALUE || offsets.size() % 8 != 0) {
            throw new IllegalStateException(offsets.path() + ": corrupt offsets file (" + offsets.size() + " bytes)");
        }
        this.count = (int) n;
        if (offsets.readLong(8L * count) != data.size()) {
            throw new IllegalStateException(data.path() + ": size " + data.size() + " does not match its offsets file");
        }
    }

    public static PassageStore open(Path dir) throws IOException {
        return new PassageStore(new MappedFile(dir.resolve(DATA)), new MappedFile(dir.resolve(OFFSETS)));
    }

    public int size() {
        return count;
    }

    public Passage get(int id) {
        if (id < 0 || id >= count)
            throw new IndexOutOfBoundsException("passage id " + id + " not in [0, " + count + ")");
        long start = offsets.readLong(8L * id);
        long end = offsets.readLong(8L * id + 8);
        byte[] rec = new byte[(int) (end - start)];
        data.read(start, rec, 0, rec.length);
        int titleLen = ByteBuffer.wrap(rec, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        String title = new String(rec, 4, titleLen, StandardCharsets.UTF_8);
        String text = new String(rec, 4 + titleLen, rec.length - 4 - titleLen, StandardCharsets.UTF_8);
        return new Passage(id, title, text);
    }

    /** Appends passages in id order; {@link #sha256()} covers the data file. */
    public static final class Writer implements Closeable {
        private final DigestOutputStream data;
        private final OutputStream offsets;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private long position;
        private int count;

        public Writer(Path dir) throws IOException {
            MessageDigest sha = Fingerprint.sha256();
            data = new DigestOutputStream(
                    new BufferedOutputStream(Files.newOutputStream(dir.resolve(DATA)), 1 << 16), sha);
            offsets = new BufferedOutputStream(Files.newOutputStream(dir.resolve(OFFSETS)), 1 << 16);
            writeOffset(0);
        }

        public int add(String title, String text) throws IOException {
            byte[] t = title.getBytes(StandardCharsets.UTF_8);
            byte[] x = text.getBytes(StandardCharsets.UTF_8);
            scratch.clear();
            scratch.putInt(t.length);
            data.write(scratch.array(), 0, 4);
            data.write(t);
            data.write(x);
            position += 4 + t.length + x.length;
            writeOffset(position);
            return count++;
        }

        public int count() {
            return count;
        }

        public String sha256() {
            return java.util.HexFormat.of().formatHex(data.getMessageDigest().digest());
        }

        private void writeOffset(long v) throws IOException {
            scratch.clear();
            scratch.putLong(v);
            offsets.write(scratch.array(), 0, 8);
        }

        @Override
        public void close() throws IOException {
            try (data;
                    offsets) {
                data.flush();
                offsets.flush();
            }
        }
    }
}
