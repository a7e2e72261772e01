#version 330 core
// Last pass: a plain copy into the output. Letterboxing is the caller's viewport,
// so u_resolution here is the content size, not the output's.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform float master;  // @param default=1.0 min=0.0 max=1.0

void main() {
    // master: the output's brightness; OSC /stage/blackout fades it to 0 and back.
    f_color = vec4(texture(u_source, v_uv).rgb * master, 1.0);
}
