package dev.rage2e.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.model.ParamStore;
import dev.rage2e.weights.HostTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter 2019), as torch.optim.AdamW:
 * p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). Updates are in place, outside autograd.
 * On CPU the update runs in libtorch's fused multi-tensor kernel ({@link dev.rage2e.engine.FusedAdamW});
 * the per-parameter op sequence below is the fallback ({@code -Drag.adamw=ops}).
 */
public final class AdamW {
    private final Map<String, NDArray> params;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private final float beta1, beta2, eps, weightDecay;
    private final NDManager manager;
    private long t;
    private final boolean onCpu;

    public AdamW(
            Map<String, NDArray> params, NDManager manager, float beta1, float beta2, float eps, float weightDecay) {
        this.params = new LinkedHashMap<>(params);
        this.manager = manager;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.onCpu = this.params.values().stream()
                .allMatch(p -> p.getDevice().getDeviceType().equals(ai.djl.Device.Type.CPU));
        for (Map.Entry<String, NDArray> e : this.params.entrySet()) {
            m.put(e.getKey(), manager.zeros(e.getValue().getShape()));
            v.put(e.getKey(), manager.zeros(e.getValue().getShape()));
        }
    }

    public AdamW(Map<String, NDArray> params, NDManager manager, float weightDecay) {
        this(params, manager, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    public Map<String, NDArray> params() {
        return params;
    }

    public long steps() {
        return t;
    }

    /** One update with learning rate {@code lr}; parameters without a gradient are skipped. */
    public void step(float lr) {
        if (onCpu && dev.rage2e.engine.FusedAdamW.available()) { // the fused kernel is libtorch's CPU one
            fusedStep(lr);
            return;
        }
        t++;
        float bc1 = (float) (1 - Math.pow(beta1, t));
        float bc2 = (float) (1 - Math.pow(beta2, t));
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray p = e.getValue();
            try (NDManager sub = manager.newSubManager()) {
                NDArray grad = gradient(p, sub);
                if (grad == null) continue;
                NDArray mi = m.get(e.getKey());
                NDArray vi = v.get(e.getKey());
                // temporaries computed from p, mi, vi belong to the long-lived managers of their receivers: make
                // them from sub-scoped arrays (grad) or close them explicitly, so nothing accumulates per step
                if (weightDecay > 0 && decays(e.getKey())) {
                    NDArray decay = p.mul(lr * weightDecay);
                    p.subi(decay);
                    decay.close();
                }
                mi.muli(beta1).addi(grad.mul(1 - beta1));
                vi.muli(beta2).addi(grad.square().muli(1 - beta2));
                NDArray denom = vi.div(bc2);
                denom.attach(sub);
                denom = denom.sqrt().addi(eps); // a result of a sub-scoped array: lives in sub
                NDArray upd = mi.div(denom);
                upd.attach(sub);
                p.subi(upd.muli(lr / bc1));
            }
        }
    }

    /**
     * The same update through libtorch's fused multi-tensor kernel: two calls per step (the decayed group and
     * the no-decay group) instead of ~10 element-wise ops per parameter.
     */
    private void fusedStep(float lr) {
        t++;
        try (NDManager sub = manager.newSubManager()) {
            List<NDArray> dp = new java.util.ArrayList<>(),
                    dg = new java.util.ArrayList<>(),
                    dm = new java.util.ArrayList<>(),
                    dv = new java.util.ArrayList<>();
            List<NDArray> np = new java.util.ArrayList<>(),
                    ng = new java.util.ArrayList<>(),
                    nm = new java.util.ArrayList<>(),
                    nv = new java.util.ArrayList<>();
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray grad = gradient(e.getValue(), sub);
                if (grad == null) continue;
                boolean decayed = weightDecay > 0 && decays(e.getKey());
                (decayed ? dp : np).add(e.getValue());
                (decayed ? dg : ng).add(grad);
                (decayed ? dm : nm).add(m.get(e.getKey()));
                (decayed ? dv : nv).add(v.get(e.getKey()));
            }
            // the kernel reads t from a float tensor, as torch's state["step"]
            NDArray step = sub.create(new float[] {t});
            dev.rage2e.engine.FusedAdamW.step(dp, dg, dm, dv, step, lr, beta1, beta2, weightDecay, eps);
            dev.rage2e.engine.FusedAdamW.step(np, ng, nm, nv, step, lr, beta1, beta2, 0, eps);
        }
    }

    /**
     * Whether weight decay applies: not to biases and LayerNorm scales/shifts, as in the reference
     * RAG fine-tuning ({@code no_decay = ["bias", "LayerNorm.weight"]}); BART's norms are named *_layer_norm.
     */
    public static boolean decays(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        return !(n.endsWith("bias") || n.contains("layernorm") || n.contains("layer_norm"));
    }

    /** Zeroes gradients in place (PyTorch accumulates into .grad across backward calls). */
    public void zeroGrad() {
        try (NDManager sub = manager.newSubManager()) {
            for (NDArray p : params.values()) {
                NDArray g = gradient(p, sub);
                // assignment, so a NaN gradient cannot survive
                if (g != null) g.set(new ai.djl.ndarray.index.NDIndex("..."), 0f);
            }
        }
    }

    /**
     * The parameter's gradient, or null. DJL wraps the gradient in a new handle attached to the
     * parameter's long-lived manager on every call; re-attaching it to {@code scope} frees the handle
     * (not the gradient storage) when the scope closes.
     */
    static NDArray gradient(NDArray p, NDManager scope) {
        if (!p.hasGradient()) return null;
        NDArray g = p.getGradient();
        if (g != null) g.attach(scope);
        return g;
    }

    /** Moments and step count as host tensors, for checkpoints ("m/NAME", "v/NAME", "step"). */
    public Map<String, HostTensor> state() {
        Map<String, HostTensor> s = new LinkedHashMap<>();
        for (String k : params.keySet()) {
            s.put("m/" + k, ParamStore.toHost(m.get(k)));
            s.put("v/" + k, ParamStore.toHost(v.get(k)));
        }
        s.put("step", HostTensor.ofLongs(new long[] {t}, 1));
        return s;
    }

    public void loadState(Map<String, HostTensor> s, String origin) {
        HostTensor st = s.get("step");
        if (st == null) throw new dev.rage2e.util.UserException(origin + ": optimizer state lacks 'step'");
        t = st.toLongs()[0];
        for (String k : params.keySet()) {
            HostTensor mi = s.get("m/" + k), vi = s.get("v/" + k);
            if (mi == null || vi == null)
                throw new dev.rage2e.util.UserException(origin + ": optimizer state lacks moments of '" + k + "'");
            // copy_ into our own storage: DJL's set(Buffer) may alias a direct buffer (here a read-only file
            // mapping), which later in-place updates would then write into
            copyInto(m.get(k), mi, origin + " m/" + k);
            copyInto(v.get(k), vi, origin + " v/" + k);
        }
    }

    /** Names of parameters whose gradient holds NaN or infinity (diagnostics for a skipped step). */
    public List<String> nonFiniteGradients(int limit) {
        List<String> out = new java.util.ArrayList<>();
        try (NDManager sub = manager.newSubManager()) {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray g = gradient(e.getValue(), sub);
                if (g != null
                        && (g.isNaN().any().getBoolean() || g.isInfinite().any().getBoolean())) {
                    out.add(e.getKey());
                    if (out.size() >= limit) break;
                }
            }
        }
        return out;
    }

    private void copyInto(NDArray dst, HostTensor src, String what) {
        if (!java.util.Arrays.equals(dst.getShape().getShape(), src.shape())) {
            throw new dev.rage2e.util.UserException(what + ": shape " + java.util.Arrays.toString(src.shape()) + " "
                    + "!= parameter shape "
                    + dst.getShape());
        }
        try (NDManager sub = manager.newSubManager()) {
            ParamStore.toNd(sub, src.asF32()).copyTo(dst);
        }
    }

    /** Scales all gradients so their global L2 norm is at most {@code maxNorm}; returns the norm before clipping. */
    public static float clipGradNorm(Iterable<NDArray> params, NDManager scope, float maxNorm) {
        try (NDManager sub = scope.newSubManager()) {
            double sq = 0;
            java.util.List<NDArray> grads = new java.util.ArrayList<>();
            for (NDArray p : params) {
                NDArray g = gradient(p, sub);
                if (g == null) continue;
                grads.add(g);
                sq += g.square().sum().getFloat();
            }
            float norm = (float) Math.sqrt(sq);
            if (maxNorm > 0 && norm > maxNorm) {
                float scale = maxNorm / (norm + 1e-6f);
                for (NDArray g : grads) g.muli(scale);
            }
            return norm;
        }
    }
}
