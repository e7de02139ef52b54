package dev.rage2e.kb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads across segment boundaries give the file's bytes (segments of 64 bytes instead of 1 GiB). */
class MappedFileTest {
    @TempDir
    Path tmp;

    @Test
    void readsStraddlingSegmentsMatchTheFile() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1000).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 250; i++) b.putFloat(i * 0.5f);
        Path f = tmp.resolve("x.bin");
        Files.write(f, b.array());
        MappedFile m = new MappedFile(f, 6);
        assertEquals(1000, m.size());
        byte[] got = new byte[300];
        m.read(50, got, 0, 300);
        assertArrayEquals(Arrays.copyOfRange(b.array(), 50, 350), got);
        float[] fl = new float[40];
        m.readFloats(4 * 10, fl, 0, 40); // bytes 40..200 cross three boundaries
        for (int i = 0; i < 40; i++) assertEquals((10 + i) * 0.5f, fl[i]);
        assertEquals(b.getLong(60), m.readLong(60)); // bytes 60..67 straddle 64
        assertEquals(b.getInt(62), m.readInt(62));
        assertThrows(IndexOutOfBoundsException.class, () -> m.read(990, new byte[20], 0, 20));
    }
}
