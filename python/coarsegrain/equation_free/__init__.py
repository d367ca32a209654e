"""Equation-free multiscale computation (arbabi2020 §3): patches of a micro-solver coupled into a
macro-scale simulation, restriction and lifting between the scales, projective integration, and
the homogenization references they are checked against.

Submodules (import them directly; the flat exports are collected here once they settle):
``patches`` (1D patch geometry, restriction, lifting), ``patch_dynamics`` (patch dynamics with
buffers and projective integration, gap-tooth), ``coupling`` (interpolation of patch-edge values
across patches), ``patch_scheme`` (the interpolation-coupled patch scheme in 1D and 2D and its
macroscale Jacobian), ``homogenization`` (effective coefficients from the cell problem).
"""
