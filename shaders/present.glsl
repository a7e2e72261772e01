#version 330 core
// Last pass: a plain copy into the output. Letterboxing is the caller's viewport,
// so u_resolution here is the content size, not the output's.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

void main() {
    f_color = vec4(texture(u_source, v_uv).rgb, 1.0);
}
