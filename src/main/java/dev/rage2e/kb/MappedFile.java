package dev.rage2e.kb;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A read-only memory-mapped file of any size (mapped in 1 GiB segments, since a Java buffer is
 * limited to 2 GiB). Reads use absolute positions only, so one instance is safe for many threads.
 * The pages live in the OS page cache: opening is cheap and a deleted file stays readable while mapped.
 */
public final class MappedFile {
    private static final int DEFAULT_SEGMENT_BITS = 30;
    private final int segmentBits;
    private final long segmentSize;
    private final Path path;
    private final long size;
    private final MappedByteBuffer[] segments;

    public MappedFile(Path path) throws IOException {
        this(path, DEFAULT_SEGMENT_BITS);
    }

    /** Smaller segments let tests exercise reads that straddle two mappings. */
    MappedFile(Path path, int segmentBits) throws IOException {
        if (segmentBits < 3 || segmentBits > 30) throw new IllegalArgumentException("segment bits " + segmentBits);
        this.path = path;
        this.segmentBits = segmentBits;
        this.segmentSize = 1L << segmentBits;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            size = ch.size();
            int n = (int) ((size + segmentSize - 1) / segmentSize);
            segments = new MappedByteBuffer[n];
            for (int i = 0; i < n; i++) {
                long start = i * segmentSize;
                segments[i] = ch.map(FileChannel.MapMode.READ_ONLY, start, Math.min(segmentSize, size - start));
                segments[i].order(ByteOrder.LITTLE_ENDIAN);
            }
        }
    }

    public Path path() {
        return path;
    }

    public long size() {
        return size;
    }

    public void read(long pos, byte[] dst, int off, int len) {
        checkRange(pos, len, 1);
        while (len > 0) {
            int seg = (int) (pos >>> segmentBits);
            int at = (int) (pos & (segmentSize - 1));
            int n = Math.min(len, segments[seg].capacity() - at);
            segments[seg].get(at, dst, off, n);
            pos += n;
            off += n;
            len -= n;
        }
    }

    public long readLong(long pos) {
        checkRange(pos, 8, 1);
        int seg = (int) (pos >>> segmentBits);
        int at = (int) (pos & (segmentSize - 1));
        if (at + 8 <= segments[seg].capacity()) return segments[seg].getLong(at);
        byte[] b = new byte[8];
        read(pos, b, 0, 8);
        return java.nio.ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    public int readInt(long pos) {
        checkRange(pos, 4, 1);
        int seg = (int) (pos >>> segmentBits);
        int at = (int) (pos & (segmentSize - 1));
        if (at + 4 <= segments[seg].capacity()) return segments[seg].getInt(at);
        byte[] b = new byte[4];
        read(pos, b, 0, 4);
        return java.nio.ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** Little-endian float32 values starting at byte {@code pos} (4-byte aligned). */
    public void readFloats(long pos, float[] dst, int off, int len) {
        checkRange(pos, len, 4);
        while (len > 0) {
            int seg = (int) (pos >>> segmentBits);
            int at = (int) (pos & (segmentSize - 1));
            int n = Math.min(len, (segments[seg].capacity() - at) / 4);
            segments[seg].asFloatBuffer().get(at / 4, dst, off, n); // segments are 4-aligned (a power of two >= 8)
            pos += 4L * n;
            off += n;
            len -= n;
        }
    }

    private void checkRange(long pos, long len, int width) {
        if (pos < 0 || len < 0 || pos + len * width > size) {
            throw new IndexOutOfBoundsException(
                    path + ": read of " + len * width + " bytes at " + pos + " beyond size " + size);
        }
    }
}
