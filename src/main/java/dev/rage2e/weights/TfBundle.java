package dev.rage2e.weights;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.zip.CRC32C;

/**
 * A TensorFlow tensor bundle (the {@code variables/} of a SavedModel, or a {@code model.ckpt}):
 * the {@code .index} file is a LevelDB-format table mapping each variable name to a
 * {@code BundleEntryProto} (dtype, shape, shard, offset, size, masked crc32c); the bytes live in
 * {@code .data-NNNNN-of-MMMMM} shards. Checksums of the table blocks and of each tensor are verified.
 */
public final class TfBundle {
    private static final long TABLE_MAGIC = 0xdb4775248b80fb57L;
    private static final int FOOTER = 48;
    /** TensorFlow DataType enum values. */
    private static final int DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_INT64 = 9, DT_BFLOAT16 = 14, DT_HALF = 19;

    public record Entry(String name, int dtype, long[] shape, int shard, long offset, long size, int maskedCrc32c) {}

    private final Map<String, Entry> entries;
    private final int numShards;
    private final String origin;

    private TfBundle(Map<String, Entry> entries, int numShards, String origin) {
        this.entries = entries;
        this.numShards = numShards;
        this.origin = origin;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public int numShards() {
        return numShards;
    }

    /** Parses the {@code .index} table. */
    public static TfBundle readIndex(ByteBuffer index, String origin) {
        ByteBuffer b = index.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining();
        if (n < FOOTER) throw bad(origin, "file is " + n + " bytes, shorter than a table footer");
        if (b.getLong(n - 8) != TABLE_MAGIC)
            throw bad(origin, "no LevelDB table magic at the end (not a TF .index file, or truncated)");
        int[] pos = {n - FOOTER};
        varint(b, pos, origin); // metaindex handle: unused
        varint(b, pos, origin);
        long indexOffset = varint(b, pos, origin);
        long indexSize = varint(b, pos, origin);
        Map<String, Entry> entries = new LinkedHashMap<>();
        int shards = -1;
        for (byte[][] kv : readBlock(b, indexOffset, indexSize, origin)) {
            int[] hp = {0};
            ByteBuffer handle = ByteBuffer.wrap(kv[1]);
            long off = varint(handle, hp, origin);
            long size = varint(handle, hp, origin);
            for (byte[][] e : readBlock(b, off, size, origin)) {
                String key = new String(e[0], StandardCharsets.UTF_8);
                if (key.isEmpty()) {
                    shards = readHeader(e[1], origin);
                } else {
                    entries.put(key, readEntry(key, e[1], origin));
                }
            }
        }
        if (shards < 0) throw bad(origin, "no bundle header (empty key) in the table");
        for (Entry e : entries.values()) {
            if (e.shard >= shards)
                throw bad(origin, "variable '" + e.name + "' is in shard " + e.shard + " of " + shards);
        }
        return new TfBundle(entries, shards, origin);
    }

    /** Data file name of shard {@code i} for a bundle prefix, e.g. "variables/variables". */
    public static String shardName(String prefix, int shard, int numShards) {
        return String.format("%s.data-%05d-of-%05d", prefix, shard, numShards);
    }

    /**
     * The tensor's values as float32 ([] for scalars), checked against its crc32c.
     *
     * @param shards the data shard bytes by shard id
     */
    public HostTensor readFloat(String name, IntFunction<ByteBuffer> shards) {
        Entry e = entries.get(name);
        if (e == null) throw new UserException(origin + ": no variable '" + name + "'");
        ByteBuffer shard = shards.apply(e.shard);
        if (e.offset < 0 || e.size < 0 || e.offset + e.size > shard.limit()) {
            throw new UserException(origin + ": variable '" + name + "' spans "
                    + "bytes " + e.offset + ".." + (e.offset + e.size)
                    + " of a " + shard.limit() + "-byte data shard (truncated?)");
        }
        ByteBuffer data = shard.slice((int) e.offset, (int) e.size).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(data.duplicate());
        if (mask((int) crc.getValue()) != e.maskedCrc32c) {
            throw new UserException(origin + ": checksum mismatch in variable '" + name + "' (corrupt data shard)");
        }
        DType dt = switch (e.dtype) {
            case DT_FLOAT -> DType.F32;
            case DT_DOUBLE -> DType.F64;
            case DT_HALF -> DType.F16;
            case DT_BFLOAT16 -> DType.BF16;
            default ->
                throw new UserException(
                        origin + ": variable '" + name + "' has TF dtype " + e.dtype + ", not a float type");
        };
        try {
            return new HostTensor(dt, e.shape, data).asF32();
        } catch (IllegalArgumentException ex) {
            throw new UserException(origin + ": variable '" + name + "': " + ex.getMessage());
        }
    }

    /** True for variables holding floating-point values (the weights; not global_step etc.). */
    public static boolean isFloat(Entry e) {
        return e.dtype == DT_FLOAT || e.dtype == DT_DOUBLE || e.dtype == DT_HALF || e.dtype == DT_BFLOAT16;
    }

    /** LevelDB's checksum masking, used by TF for both table blocks and tensor data. */
    static int mask(int crc) {
        return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    }

    /** Key/value pairs of one table block, after checking its trailer (type byte + masked crc32c). */
    private static List<byte[][]> readBlock(ByteBuffer file, long offset, long size, String origin) {
        if (offset < 0 || size < 4 || offset + size + 5 > file.limit()) {
            throw bad(
                    origin, "block at " + offset + " (+" + size + ") lies outside the " + file.limit() + "-byte file");
        }
        int off = (int) offset;
        int len = (int) size;
        int type = file.get(off + len) & 0xff;
        CRC32C crc = new CRC32C();
        crc.update(file.slice(off, len + 1));
        if (mask((int) crc.getValue()) != file.getInt(off + len + 1))
            throw bad(origin, "block checksum mismatch at byte " + off);
        if (type == 1) throw bad(origin, "snappy-compressed table blocks are not supported");
        if (type != 0) throw bad(origin, "unknown block compression type " + type);
        ByteBuffer block = file.slice(off, len).order(ByteOrder.LITTLE_ENDIAN);
        int restarts = block.getInt(len - 4);
        int end = len - 4 - 4 * restarts;
        if (restarts < 0 || end < 0) throw bad(origin, "block at " + off + " has an invalid restart array");
        List<byte[][]> out = new ArrayList<>();
        byte[] prev = new byte[0];
        int[] p = {0};
        while (p[0] < end) {
            int shared = (int) varint(block, p, origin);
            int nonShared = (int) varint(block, p, origin);
            int valueLen = (int) varint(block, p, origin);
            if (shared > prev.length || p[0] + nonShared + valueLen > end)
                throw bad(origin, "malformed entry in block at " + off);
            byte[] key = Arrays.copyOf(prev, shared + nonShared);
            block.get(p[0], key, shared, nonShared);
            p[0] += nonShared;
            byte[] value = new byte[valueLen];
            block.get(p[0], value);
            p[0] += valueLen;
            out.add(new byte[][] {key, value});
            prev = key;
        }
        return out;
    }

    private static long varint(ByteBuffer b, int[] pos, String origin) {
        long r = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos[0] >= b.limit()) throw bad(origin, "truncated varint");
            int c = b.get(pos[0]++) & 0xff;
            r |= (long) (c & 0x7f) << shift;
            if (c < 0x80) return r;
        }
        throw bad(origin, "malformed varint");
    }

    /** BundleHeaderProto: num_shards = 1, endianness = 2 (0 little). Returns the shard count. */
    private static int readHeader(byte[] value, String origin) {
        int shards = 1;
        try {
            CodedInputStream in = CodedInputStream.newInstance(value);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> shards = in.readInt32();
                    case 2 -> {
                        if (in.readInt32() != 0) throw bad(origin, "big-endian bundles are not supported");
                    }
                    default -> in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw bad(origin, "malformed bundle header: " + e.getMessage());
        }
        if (shards <= 0) throw bad(origin, "bundle header says " + shards + " shards");
        return shards;
    }

    /**
     * BundleEntryProto: dtype 1, shape 2 (TensorShapeProto dim 2 {size 1}),
     * shard_id 3, offset 4, size 5, crc32c 6, slices 7.
     */
    private static Entry readEntry(String name, byte[] value, String origin) {
        int dtype = 0, shard = 0, crc = 0;
        long offset = 0, size = 0;
        List<Long> dims = new ArrayList<>();
        try {
            CodedInputStream in = CodedInputStream.newInstance(value);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> dtype = in.readEnum();
                    case 2 -> {
                        CodedInputStream shape = in.readBytes().newCodedInput();
                        for (int st = shape.readTag(); st != 0; st = shape.readTag()) {
                            if (WireFormat.getTagFieldNumber(st) == 2) {
                                CodedInputStream dim = shape.readBytes().newCodedInput();
                                long sz = 0;
                                for (int dt = dim.readTag(); dt != 0; dt = dim.readTag()) {
                                    if (WireFormat.getTagFieldNumber(dt) == 1) sz = dim.readInt64();
                                    else dim.skipField(dt);
                                }
                                dims.add(sz);
                            } else {
                                shape.skipField(st);
                            }
                        }
                    }
                    case 3 -> shard = in.readInt32();
                    case 4 -> offset = in.readInt64();
                    case 5 -> size = in.readInt64();
                    case 6 -> crc = in.readFixed32();
                    case 7 -> throw bad(origin, "variable '" + name + "' is partitioned (slices); not supported");
                    default -> in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw bad(origin, "malformed entry for '" + name + "': " + e.getMessage());
        }
        return new Entry(name, dtype, dims.stream().mapToLong(Long::longValue).toArray(), shard, offset, size, crc);
    }

    private static UserException bad(String origin, String problem) {
        return new UserException(origin + ": corrupt TF bundle index: " + problem);
    }
}
