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
    vec3 c;
    if (mode <= 0) {
        c = sample_nearest(u_source, uv, u_source_size).rgb;
    } else if (mode == 1) {
        c = texture(u_source, uv).rgb;
    } else {
        c = sample_catmull_rom(u_source, uv, u_source_size).rgb;
    }
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
