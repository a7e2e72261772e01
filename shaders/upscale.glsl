#version 330 core
// First pass: the generator frame (uploaded with row 0 = top) -> content size.
// The chain's one vertical flip happens here; every later pass is in GL orientation.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform vec2 u_source_size;
// `filter` is a reserved word in GLSL, so the uniform is renamed and the param keeps its name.
uniform float filter_mode; // @param name=filter default=2 min=0 max=2

void main() {
    vec2 uv = vec2(v_uv.x, 1.0 - v_uv.y);
    int mode = int(filter_mode + 0.5);
    // All three filters share the five taps of sample_catmull_rom: software GL runs every
    // branch of an `if`, so separate code paths would all be paid for, every pixel.
    // 0 = nearest: one tap at the texel centre; 1 = bilinear: one tap at uv.
    vec2 texel = min(floor(uv * u_source_size), u_source_size - 1.0);
    vec2 centre = mode == 0 ? (texel + 0.5) / u_source_size : uv;
    vec3 c = sample_catmull_rom(u_source, uv, u_source_size, mode == 2, centre).rgb;
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
