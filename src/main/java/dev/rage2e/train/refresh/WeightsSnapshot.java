package dev.rage2e.train.refresh;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.model.ParamStore;
import dev.rage2e.weights.HostTensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A copy of the context encoder's weights taken between two steps. The training thread only asks
 * libtorch for a clone of each tensor (a memcpy in native memory, no JVM buffers); the conversion to
 * host tensors, which the refresher's own encoder and the checkpoint need, happens later on whichever
 * thread first asks for {@link #host()} (normally the refresher's). The native clones are freed then.
 */
public final class WeightsSnapshot implements AutoCloseable {
    private NDManager manager;
    private Map<String, NDArray> arrays;
    private Map<String, HostTensor> host;

    private WeightsSnapshot(NDManager manager, Map<String, NDArray> arrays, Map<String, HostTensor> host) {
        this.manager = manager;
        this.arrays = arrays;
        this.host = host;
    }

    /** Clones every tensor of {@code params} (parameters and buffers) inside libtorch. */
    public static WeightsSnapshot copyOf(ParamStore params) {
        NDManager m = NDManager.newBaseManager();
        Map<String, NDArray> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NDArray> e : params.tensors().entrySet()) {
                NDArray c = e.getValue().duplicate(); // a libtorch clone
                c.attach(m);
                NDArray d = c.stopGradient(); // detached, so the copy is no part of any autograd graph
                c.close();
                out.put(e.getKey(), d);
            }
        } catch (RuntimeException ex) {
            m.close();
            throw ex;
        }
        return new WeightsSnapshot(m, out, null);
    }

    /** Weights already on the host (tests, a resumed run's saved snapshot). */
    public static WeightsSnapshot ofHost(Map<String, HostTensor> host) {
        return new WeightsSnapshot(null, null, host);
    }

    /** The weights as host tensors by {@code ParamStore.toHost()} names; computed once. */
    public synchronized Map<String, HostTensor> host() {
        if (host == null) {
            Map<String, HostTensor> h = new LinkedHashMap<>();
            arrays.forEach((k, v) -> h.put(k, ParamStore.toHost(v)));
            host = h;
            manager.close();
            manager = null;
            arrays = null;
        }
        return host;
    }

    @Override
    public synchronized void close() {
        if (manager != null) manager.close();
        manager = null;
        arrays = null;
    }
}
