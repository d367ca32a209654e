"""The point-wise network op (``coarsegrain.ops.pointwise_mlp``) against its peers, in one run.

The h(u) of patel2021's modal operators (1 input, 4 hidden layers of 4 ELU units, 1 output) and a
wider multi-field one (3 inputs, 3 layers of 16 tanh units, 2 outputs) over 1-4 million points,
forward and forward + backward (gradients of x and of every weight): the compiled op against
PyTorch eager (nn.Linear layers, points as rows; and points as columns, ModalMLP's torch path),
torch.compile of the columns form, and a copy of the input (the bandwidth limit of a network that
reads x and writes y once).

    python bench/python/bench_pointwise_mlp.py [--device cpu|cuda] [--quick]

Writes bench/results/pointwise_mlp_<device>.json.
"""

from __future__ import annotations

import argparse

import benchutil
import torch

from coarsegrain.models.modal import ModalMLP

NETWORKS = [  # (name, n_in, width, depth, n_out, activation)
    ("patel2021_h", 1, 4, 4, 1, "elu"),
    ("multi_field", 3, 16, 3, 2, "tanh"),
]


def rows_form(net):
    def f(x):
        z = net.act(net.first(x))
        for layer in net.hidden:
            z = net.act(layer(z))
        return net.out(z)
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    dev, reps = args.device, (3 if args.quick else 7)
    sizes = [1 << 20] if args.quick else [1 << 20, 1 << 22]
    results = []
    for name, n_in, width, depth, n_out, act in NETWORKS:
        for dtype in (torch.float32, torch.float64):
            torch.manual_seed(0)
            ours_net = ModalMLP(n_in, n_out, width=width, depth=depth, activation=act, init="torch").to(dev, dtype)
            torch_net = ModalMLP(n_in, n_out, width=width, depth=depth, activation=act, init="torch",
                                 compiled=False).to(dev, dtype)
            torch_net.load_state_dict(ours_net.state_dict())
            compiled = torch.compile(torch_net.forward)
            forms = {"coarsegrain": ours_net, "torch_eager_columns": torch_net, "torch_eager_rows": rows_form(torch_net),
                     "torch_compile_columns": compiled}
            for points in sizes:
                x = torch.randn(points, n_in, dtype=dtype, device=dev)
                assert ours_net.uses_compiled_op(x)
                buf = torch.empty_like(x)
                row = {"network": name, "n_in": n_in, "width": width, "depth": depth, "n_out": n_out,
                       "activation": act, "dtype": str(dtype), "points": points,
                       "copy_s": benchutil.median_time(lambda: buf.copy_(x), reps, dev)}
                xg = x.clone().requires_grad_()
                for form, f in forms.items():
                    def forward(f=f):
                        with torch.no_grad():
                            return f(x)

                    def both(f=f):
                        y = f(xg)
                        y.backward(torch.ones_like(y))

                    try:
                        row[f"{form}_forward_s"] = benchutil.median_time(forward, reps, dev, warmup=3)
                        row[f"{form}_forward_backward_s"] = benchutil.median_time(both, reps, dev, warmup=3)
                    except Exception as e:  # torch.compile needs a C++ toolchain at run time
                        print(f"{form} failed: {type(e).__name__}: {e}")
                        row[f"{form}_forward_s"] = row[f"{form}_forward_backward_s"] = None
                with torch.no_grad():
                    ref = torch_net(x)
                    tol = 1e-4 if dtype == torch.float32 else 1e-10
                    torch.testing.assert_close(ours_net(x), ref, rtol=tol, atol=tol)
                ours_f, ours_fb = row["coarsegrain_forward_s"], row["coarsegrain_forward_backward_s"]
                row["forward_fraction_of_copy"] = row["copy_s"] / ours_f
                for form in forms:
                    if form != "coarsegrain" and row[f"{form}_forward_s"] is not None:
                        row[f"forward_speedup_vs_{form}"] = row[f"{form}_forward_s"] / ours_f
                        row[f"forward_backward_speedup_vs_{form}"] = row[f"{form}_forward_backward_s"] / ours_fb
                results.append(row)
                print(f"{name:>12} {str(dtype):>14} {points:>8}: forward {1e3 * ours_f:7.2f} ms "
                      f"(copy fraction {row['forward_fraction_of_copy']:.3f}), fwd+bwd {1e3 * ours_fb:7.2f} ms; "
                      + ", ".join(f"vs {form} {row.get(f'forward_speedup_vs_{form}') or float('nan'):.1f}x / "
                                  f"{row.get(f'forward_backward_speedup_vs_{form}') or float('nan'):.1f}x"
                                  for form in forms if form != "coarsegrain"))
    path = benchutil.write_results("pointwise_mlp", dev, {"pointwise_mlp": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
