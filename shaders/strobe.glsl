#version 330 core
// Strobe: the picture flashed towards a colour (white by default). `amount` is the flash,
// 0..1, for a cue or an audio envelope to ramp: 1 is the solid colour, 0 (the default) the
// untouched picture, and the chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float amount; // @param default=0.0 min=0.0 max=1.0 bypass=0
uniform float r;      // @param default=1.0 min=0.0 max=1.0
uniform float g;      // @param default=1.0 min=0.0 max=1.0
uniform float b;      // @param default=1.0 min=0.0 max=1.0

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    f_color = vec4(mix(c, vec3(r, g, b), amount), 1.0);
}
