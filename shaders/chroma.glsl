#version 330 core
// Chromatic aberration: red and blue fetched `amount` pixels to either side of green, along
// `angle` (degrees; 0 = red from the right, blue from the left). radial=1 makes the split
// grow from nothing at the centre to `amount` at the corners, like a lens. At amount=0 (the
// default) the chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float amount; // @param default=0.0 min=0.0 max=32.0 bypass=0
uniform float angle;  // @param default=0.0 min=-180.0 max=180.0
uniform float radial; // @param default=0.0 min=0.0 max=1.0

void main() {
    vec2 size = vec2(textureSize(u_source, 0));
    float a = radians(angle);
    vec2 along = vec2(cos(a), sin(a));
    vec2 out_dir = (v_uv - 0.5) * 2.0 / 1.41421356;  // centre 0, corners length 1
    vec2 dir = mix(along, out_dir, radial);
    vec2 shift = dir * amount / size;
    float r = texture(u_source, v_uv + shift).r;
    float g = texture(u_source, v_uv).g;
    float b = texture(u_source, v_uv - shift).b;
    f_color = vec4(r, g, b, 1.0);
}
