package dev.rage2e.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.util.List;

/**
 * libtorch's fused multi-tensor AdamW CPU kernel ({@code torch.optim.AdamW(fused=True)}:
 * {@code at::native::_fused_adamw_kernel_cpu_}), called through JNA on DJL's tensor handles. One call
 * updates every tensor of a group in one vectorised pass over parameter, gradient and both moments,
 * instead of ~10 separate element-wise ops (each a full read/write of the tensor and a JNI round trip)
 * per parameter. Its update is exactly torch's AdamW: decoupled weight decay {@code p *= 1 - lr*wd},
 * {@code m = lerp(m, g, 1-b1)}, {@code v = b2 v + (1-b2) g^2},
 * {@code p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)} with t read from a step tensor.
 *
 * <p>DJL's own {@code NDArrayEx.adamUpdate} is not used: it follows MXNet's formulation (eps added to the
 * un-bias-corrected sqrt(v)), which is not torch's AdamW, and it is still one call per parameter.
 */
public final class FusedAdamW {
    // void at::native::_fused_adamw_kernel_cpu_(TensorList params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
    //     state_steps, double lr, beta1, beta2, weight_decay, eps, bool amsgrad, bool maximize,
    //     const std::optional<Tensor>& grad_scale, const std::optional<Tensor>& found_inf)
    private static final String KERNEL =
            "_ZN2at6native24_fused_adamw_kernel_cpu_EN3c108ArrayRefINS_6TensorEEES4_S4_S4_S4_S4_dddddbbRKSt8optionalIS3_ES8_";
    private static final String PROPERTY = "rag.adamw";

    /** c10::ArrayRef<at::Tensor>: {const Tensor* data; size_t length}, passed by value. */
    @Structure.FieldOrder({"data", "length"})
    public static class TensorList extends Structure implements Structure.ByValue {
        public Pointer data;
        public long length;
    }

    private static volatile Function kernel;
    private static volatile String unavailable;
    /** A disengaged std::optional<at::Tensor> (payload pointer + engaged flag, all zero). */
    private static final Memory NO_TENSOR = new Memory(32);

    static {
        NO_TENSOR.clear();
    }

    private FusedAdamW() {}

    /** Whether the fused kernel is used ({@code -Drag.adamw=ops} forces the per-op path, for comparison). */
    public static boolean available() {
        if ("ops".equals(System.getProperty(PROPERTY))) return false;
        if (kernel != null) return true;
        if (unavailable != null) return false;
        synchronized (FusedAdamW.class) {
            if (kernel == null && unavailable == null) {
                try {
                    kernel = Precision.torch().getFunction(KERNEL);
                } catch (RuntimeException | LinkageError e) { // e.g. JNA cannot unpack its stub on a full disk
                    unavailable = e.toString();
                    System.err.println(
                            "rag: fused AdamW kernel unavailable (" + unavailable + "); using per-parameter ops");
                }
            }
        }
        return kernel != null;
    }

    /**
     * One AdamW update of {@code params} in place. All lists have one entry per parameter (contiguous
     * fp32 tensors, same shapes); {@code step} is a 1-element fp32 tensor holding the step number t (>= 1),
     * shared by all of them. {@code found_inf}/{@code grad_scale} are not used (no AMP).
     */
    public static void step(
            List<NDArray> params,
            List<NDArray> grads,
            List<NDArray> m,
            List<NDArray> v,
            NDArray step,
            double lr,
            double beta1,
            double beta2,
            double weightDecay,
            double eps) {
        int n = params.size();
        if (n == 0) return;
        if (grads.size() != n || m.size() != n || v.size() != n)
            throw new IllegalArgumentException("list sizes differ");
        for (List<NDArray> l : List.of(params, grads, m, v)) {
            for (NDArray a : l) {
                if (a.getDataType() != ai.djl.ndarray.types.DataType.FLOAT32)
                    throw new IllegalArgumentException("fused AdamW needs fp32");
            }
        }
        Memory steps = new Memory(8L * n);
        long stepImpl = impl(step);
        for (int i = 0; i < n; i++) steps.setLong(8L * i, stepImpl);
        TensorList empty = new TensorList();
        empty.data = null;
        empty.length = 0;
        // the Memory blocks must stay reachable until the call returns
        Memory[] keep = {tensors(params), tensors(grads), tensors(m), tensors(v), steps};
        kernel.invokeVoid(new Object[] {
            list(keep[0], n),
            list(keep[1], n),
            list(keep[2], n),
            list(keep[3], n),
            empty,
            list(steps, n),
            lr,
            beta1,
            beta2,
            weightDecay,
            eps,
            false,
            false,
            NO_TENSOR,
            NO_TENSOR
        });
        java.lang.ref.Reference.reachabilityFence(keep);
    }

    private static TensorList list(Memory data, int n) {
        TensorList l = new TensorList();
        l.data = data;
        l.length = n;
        return l;
    }

    /**
     * An array of at::Tensor values for an ArrayRef. A DJL handle points at a heap {@code torch::Tensor},
     * which is one intrusive pointer to its TensorImpl; the array holds bitwise copies of those pointers
     * (no reference-count change: the callee only borrows them while the originals stay alive).
     */
    private static Memory tensors(List<NDArray> arrays) {
        Memory mem = new Memory(8L * arrays.size());
        for (int i = 0; i < arrays.size(); i++) mem.setLong(8L * i, impl(arrays.get(i)));
        return mem;
    }

    private static long impl(NDArray a) {
        if (!(a instanceof PtNDArray pt)) throw new IllegalArgumentException("not a PyTorch array: " + a.getClass());
        // contiguity is not checkable through DJL; parameters are created from host buffers and moments with
        // zeros (contiguous), and autograd lays a leaf's gradient out like the leaf
        long handle = pt.getHandle();
        return new Pointer(handle).getLong(0);
    }
}
