"""StyleGAN networks brought by artists: NVlabs' network pickles (StyleGAN2-ADA, StyleGAN3) read
as data (`reader`: nothing in a pickle is run), our own plain-PyTorch generators (`stylegan2`,
`stylegan3`) and the import into an ordinary checkpoint (`convert`).
"""
