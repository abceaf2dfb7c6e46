"""VAE and scheduler config.json contents shaped like the published ones."""

from __future__ import annotations

from typing import Any, Dict

_KL_BLOCKS = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3,
    "out_channels": 3,
    "layers_per_block": 2,
    "norm_num_groups": 32,
}

# runwayml/stable-diffusion-v1-5: the vae config predates `scaling_factor`; diffusers
# falls back to AutoencoderKL's default 0.18215.
SD15_VAE: Dict[str, Any] = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", **_KL_BLOCKS, "latent_channels": 4, "sample_size": 512}
SD15_SCHEDULER: Dict[str, Any] = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
    "steps_offset": 1, "trained_betas": None, "clip_sample": False,
}
SDXL_VAE: Dict[str, Any] = {
    "_class_name": "AutoencoderKL", "_diffusers_version": "0.18.0.dev0", **_KL_BLOCKS, "force_upcast": True,
    "latent_channels": 4, "sample_size": 1024, "scaling_factor": 0.13025,
}
SDXL_SCHEDULER: Dict[str, Any] = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False,
}
SD3_VAE: Dict[str, Any] = {
    "_class_name": "AutoencoderKL", "_diffusers_version": "0.29.0.dev0", **_KL_BLOCKS, "force_upcast": True,
    "latent_channels": 16, "latents_mean": None, "latents_std": None, "sample_size": 1024,
    "scaling_factor": 1.5305, "shift_factor": 0.0609, "use_post_quant_conv": False, "use_quant_conv": False,
}
SD3_SCHEDULER: Dict[str, Any] = {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.29.0.dev0", "num_train_timesteps": 1000, "shift": 3.0}
FLUX_VAE: Dict[str, Any] = {**SD3_VAE, "_diffusers_version": "0.30.0.dev0", "scaling_factor": 0.3611, "shift_factor": 0.1159}
FLUX_SCHEDULER: Dict[str, Any] = {
    "_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.30.0.dev0", "base_image_seq_len": 256,
    "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
    "use_dynamic_shifting": True,
}
WAN_VAE: Dict[str, Any] = {
    "_class_name": "AutoencoderKLWan", "_diffusers_version": "0.33.0.dev0", "attn_scales": [], "base_dim": 96,
    "dim_mult": [1, 2, 4, 4], "dropout": 0.0,
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                     0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
    "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916],
    "num_res_blocks": 2, "temperal_downsample": [False, True, True], "z_dim": 16,
}
WAN_SCHEDULER: Dict[str, Any] = {
    "_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.33.0.dev0", "beta_end": 0.02,
    "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [], "dynamic_thresholding_ratio": 0.995,
    "final_sigmas_type": "zero", "flow_shift": 3.0, "lower_order_final": True, "num_train_timesteps": 1000,
    "predict_x0": True, "prediction_type": "flow_prediction", "sample_max_value": 1.0, "solver_order": 2,
    "solver_type": "bh2", "steps_offset": 0, "thresholding": False, "timestep_spacing": "linspace",
    "use_flow_sigmas": True,
}
PLAYGROUND25_VAE: Dict[str, Any] = {
    "_class_name": "AutoencoderKL", "_diffusers_version": "0.27.0.dev0", **_KL_BLOCKS, "force_upcast": True,
    "latent_channels": 4, "latents_mean": [-1.6574, 1.886, -1.383, 2.5155],
    "latents_std": [8.4927, 5.9022, 6.5498, 5.2299], "sample_size": 1024, "scaling_factor": 0.5,
}
DDPM_SCHEDULER: Dict[str, Any] = {
    "_class_name": "DDPMScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "clip_sample": True, "clip_sample_range": 1.0, "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "thresholding": False, "variance_type": "fixed_small",
}

# name -> (vae config, scheduler config, expected reference, expected scheduler, latent channels)
MODELS: Dict[str, Any] = {
    "sd15": (SD15_VAE, SD15_SCHEDULER, {"scaling_factor": 0.18215, "shift_factor": 0.0}, {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, 4),
    "sdxl": (SDXL_VAE, SDXL_SCHEDULER, {"scaling_factor": 0.13025, "shift_factor": 0.0}, {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, 4),
    "sd3": (SD3_VAE, SD3_SCHEDULER, {"scaling_factor": 1.5305, "shift_factor": 0.0609}, {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, 16),
    "flux": (FLUX_VAE, FLUX_SCHEDULER, {"scaling_factor": 0.3611, "shift_factor": 0.1159}, {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, 16),
    "wan": (WAN_VAE, WAN_SCHEDULER, {"latents_mean": WAN_VAE["latents_mean"], "latents_std": WAN_VAE["latents_std"], "scaling_factor": 1.0}, {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, 16),
    "playground25": (PLAYGROUND25_VAE, DDPM_SCHEDULER, {"latents_mean": PLAYGROUND25_VAE["latents_mean"], "latents_std": PLAYGROUND25_VAE["latents_std"], "scaling_factor": 0.5}, {"clip_sample": True, "clip_sample_range": 1.0, "thresholding": False}, 4),
}
