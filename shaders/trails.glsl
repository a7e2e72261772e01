#version 330 core
// Feedback trails: the current image against this pass's own previous output, decayed.
// blend=0 keeps the brighter of the two (light trails); blend=1 mixes them (smear).
// At decay=0 it is the identity, so the chain skips it (bypass=0).

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform sampler2D u_previous;

uniform float decay; // @param default=0.0 min=0.0 max=0.99 bypass=0
uniform float blend; // @param default=0.0 min=0.0 max=1.0

void main() {
    vec3 current = texture(u_source, v_uv).rgb;
    vec3 previous = texture(u_previous, v_uv).rgb;
    vec3 lighten = max(current, previous * decay);
    vec3 smear = mix(current, previous, decay);
    f_color = vec4(mix(lighten, smear, blend), 1.0);
}
